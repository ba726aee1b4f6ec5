import { loadConfig } from '../../lib/config';
import { parseTrustedRoles } from '../../lib/config-users';
import { ConfigError } from '../../lib/errors';
import { formatUsersFile, hashPassword, isPasswordHash, parseUsersFile, UsersFileError, verifyPassword } from '../../lib/users';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Small parameters: the format and the check are what is tested, not scrypt's cost. */
const FAST = { N: 1_024, r: 8, p: 1 };

describe('the users file (HUB_USERS_FILE)', () => {
  it('hashes with a fresh salt and its parameters in the string, and verifies only the right password', async () => {
    const one = await hashPassword('correct horse', FAST);
    const two = await hashPassword('correct horse', FAST);
    expect(one).toMatch(/^scrypt\$N=1024,r=8,p=1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(one).not.toBe(two);
    expect(await verifyPassword('correct horse', one)).toBe(true);
    expect(await verifyPassword('correct horse', two)).toBe(true);
    expect(await verifyPassword('correct horsf', one)).toBe(false);
    expect(await verifyPassword('', one)).toBe(false);
    // The parameters are read from the string: a default-cost hash verifies too.
    const standard = await hashPassword('s3cret-long-enough');
    expect(standard).toMatch(/^scrypt\$N=16384,r=8,p=1\$/);
    expect(await verifyPassword('s3cret-long-enough', standard)).toBe(true);
  });

  it('refuses malformed or out-of-range hashes instead of verifying against them', async () => {
    const good = await hashPassword('pw', FAST);
    for (const bad of ['', 'plain', good.replace('scrypt$', 'bcrypt$'), good.replace('N=1024', 'N=1000'), good.replace('N=1024', 'N=2097152'), good.replace('p=1', 'p=0')]) {
      expect({ bad, ok: isPasswordHash(bad) }).toEqual({ bad, ok: false });
      expect(await verifyPassword('pw', bad)).toBe(false);
    }
  });

  it('parses name:role:hash lines, skipping blanks and comments, and writes them back the same', async () => {
    const alice = await hashPassword('alice-pw', FAST);
    const bob = await hashPassword('bob-pw', FAST);
    const text = `# ops people\n\nalice@corp.cn:admin:${alice}\r\n   \n  # bob is on call\nbob:operator:${bob}\ncarol:viewer:${alice}\n`;
    const users = parseUsersFile(text);
    expect(users).toEqual([
      { name: 'alice@corp.cn', role: 'admin', hash: alice },
      { name: 'bob', role: 'operator', hash: bob },
      { name: 'carol', role: 'viewer', hash: alice },
    ]);
    const written = formatUsersFile(users);
    expect(written.startsWith('#')).toBe(true);
    expect(parseUsersFile(written)).toEqual(users);
    expect(await verifyPassword('bob-pw', users[1]?.hash ?? '')).toBe(true);
  });

  it('names the line of every malformed entry, never the hash', async () => {
    const hash = await hashPassword('pw', FAST);
    const text = [`ok:admin:${hash}`, 'no-hash:admin', `bad role:admin:${hash}`, `dave:root:${hash}`, 'erin:viewer:scrypt$N=3', `ok:viewer:${hash}`].join('\n');
    let problems: readonly string[] = [];
    try {
      parseUsersFile(text);
    } catch (err) {
      if (!(err instanceof UsersFileError)) throw err;
      problems = err.problems;
    }
    expect(problems).toEqual([
      'line 2: expected name:role:hash',
      'line 3: invalid user name (no spaces or ":", at most 128 characters)',
      'line 4: role must be one of admin, operator, viewer',
      expect.stringMatching(/^line 5: the password hash is not scrypt/),
      'line 6: user ok is already on line 1',
    ]);
    expect(problems.join('\n')).not.toContain(hash.split('$')[3] ?? 'x');
  });

  it('is a configuration error at load, naming the file and the line; single sign-on needs its proxies and roles', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jobhub-users-'));
    try {
      const file = join(dir, 'users');
      writeFileSync(file, `alice:admin:${await hashPassword('pw', FAST)}\nbob:operator:nope\n`);
      const problemsOf = (env: Record<string, string>): string[] => {
        try {
          loadConfig({ HUB_ENV: 'development', ...env });
          return [];
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          return [...err.problems];
        }
      };
      expect(problemsOf({ HUB_USERS_FILE: file })).toEqual([expect.stringMatching(new RegExp(`^HUB_USERS_FILE: ${file} line 2: the password hash`))]);
      expect(problemsOf({ HUB_USERS_FILE: join(dir, 'missing') })).toEqual([expect.stringMatching(/^HUB_USERS_FILE: cannot read .*ENOENT/)]);
      expect(problemsOf({ HUB_TRUSTED_USER_HEADER: 'X-Auth-Request-Email', HUB_TRUSTED_ROLES: '*:viewer' })).toEqual([
        expect.stringMatching(/^HUB_TRUSTED_USER_HEADER: requires HUB_TRUSTED_PROXIES/),
      ]);
      expect(problemsOf({ HUB_TRUSTED_USER_HEADER: 'X-Auth-Request-Email', HUB_TRUSTED_PROXIES: '10.0.0.0/8' })).toEqual([expect.stringMatching(/^HUB_TRUSTED_ROLES: required/)]);
      writeFileSync(file, `alice:admin:${await hashPassword('pw', FAST)}\n`);
      const config = loadConfig({ HUB_ENV: 'development', HUB_USERS_FILE: file, HUB_TRUSTED_USER_HEADER: 'X-Auth-Request-Email', HUB_TRUSTED_PROXIES: '10.0.0.0/8,fd00::/8', HUB_TRUSTED_ROLES: 'a@corp.cn:admin, *:viewer' });
      expect(config.board.users.map((u) => [u.name, u.role])).toEqual([['alice', 'admin']]);
      expect(config.board.trustedUser?.header).toBe('x-auth-request-email');
      expect([...(config.board.trustedUser?.roles ?? [])]).toEqual([['a@corp.cn', 'admin'], ['*', 'viewer']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the role mapping of single sign-on', () => {
    expect(parseTrustedRoles('alice@corp.cn:admin,bob@corp.cn:operator,*:viewer')).toEqual(new Map([['alice@corp.cn', 'admin'], ['bob@corp.cn', 'operator'], ['*', 'viewer']]));
    for (const bad of ['alice', 'alice:root', 'alice:admin,alice:viewer', ':admin']) expect({ bad, ok: parseTrustedRoles(bad) }).toEqual({ bad, ok: null });
  });
});
