import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envSchema, loadConfig } from '../../lib/config';
import { SECRET_VARIABLES } from '../../lib/config-secrets';
import { configProblems } from '../support/env';

const dir = mkdtempSync(join(tmpdir(), 'jobhub-secrets-'));
function secretFile(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** Credentials from files (`<NAME>_FILE`), as Kubernetes secrets and container images mount them. */
describe('secrets from files', () => {
  it('reads each credential from its file, without the trailing newline an editor or echo leaves', () => {
    const config = loadConfig({
      BOARD_USERNAME: 'ops',
      BOARD_PASSWORD_FILE: secretFile('board', 'correct horse battery\n'),
      MYSQL_URL_FILE: secretFile('mysql', 'mysql://hub:from-url@db.internal:3307/jobhub\r\n'),
      MYSQL_PASSWORD_FILE: secretFile('mysql-password', 'p@ss:w/rd\n'),
      REDIS_URL: 'redis://redis.internal:6380/0',
      REDIS_PASSWORD_FILE: secretFile('redis-password', 's3cr&t\n\n'),
      HUB_API_TOKENS_FILE: secretFile('tokens', 'marketing:a-token-of-at-least-32-characters-long\n'),
    });
    expect(config.board.admin).toEqual({ username: 'ops', password: 'correct horse battery' });
    expect(config.mysql).toMatchObject({ host: 'db.internal', port: 3307, user: 'hub', password: 'p@ss:w/rd' });
    expect(new URL(config.redis.url)).toMatchObject({ hostname: 'redis.internal', port: '6380' });
    expect(decodeURIComponent(new URL(config.redis.url).password)).toBe('s3cr&t');
    expect(config.apiTokens.map((t) => t.client)).toEqual(['marketing']);
  });

  it('refuses a variable given both ways, and a file it cannot read, naming the variable and never the value', () => {
    const problems = configProblems({
      BOARD_PASSWORD: 'inline-value',
      BOARD_PASSWORD_FILE: secretFile('both', 'file-value'),
      WECHAT_MP_SECRET_FILE: join(dir, 'missing'),
    });
    expect(problems).toEqual(['BOARD_PASSWORD and BOARD_PASSWORD_FILE are both set: give one', `WECHAT_MP_SECRET_FILE: cannot read ${join(dir, 'missing')} (ENOENT)`]);
    expect(problems.join(' ')).not.toMatch(/inline-value|file-value/);
  });

  it('covers every credential the schema has, and only names the schema knows', () => {
    const env = Object.fromEntries(SECRET_VARIABLES.map((name) => [`${name}_FILE`, join(dir, 'none')]));
    expect(configProblems(env)).toHaveLength(SECRET_VARIABLES.length);
    const known = Object.keys(envSchema.shape);
    expect(SECRET_VARIABLES.filter((name) => !known.includes(name))).toEqual([]);
    const credentials = known.filter((name) => /SECRET|PASSWORD|TOKEN|API_V3_KEY|^(MYSQL|REDIS|SMTP)_URL$/.test(name));
    expect(credentials.filter((name) => !(SECRET_VARIABLES as readonly string[]).includes(name))).toEqual([]);
  });
});
