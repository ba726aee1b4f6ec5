import { readFileSync } from 'node:fs';
import { ConfigError } from './errors';

/**
 * Credentials may come from files instead of the environment, as container images and Kubernetes
 * secrets mount them: `<NAME>_FILE=/run/secrets/…` for each name below. Only these: other
 * variables ending in `_FILE` (`WECHAT_PAY_PRIVATE_KEY_FILE`) are paths the hub reads itself.
 */
export const SECRET_VARIABLES = [
  'MYSQL_URL',
  'MYSQL_PASSWORD',
  'REDIS_URL',
  'REDIS_PASSWORD',
  'REDIS_SENTINEL_PASSWORD',
  'HUB_API_TOKENS',
  'BOARD_PASSWORD',
  'BOARD_VIEWER_PASSWORD',
  'WECHAT_PAY_API_V3_KEY',
  'ALIYUN_SMS_ACCESS_KEY_ID',
  'ALIYUN_SMS_ACCESS_KEY_SECRET',
  'TENCENT_SMS_SECRET_ID',
  'TENCENT_SMS_SECRET_KEY',
  'SMS_RECEIPT_TOKEN',
  'SMTP_URL',
  'WECHAT_MP_SECRET',
  'WECHAT_MINIAPP_SECRET',
  'SCHOOL_TMS_CLIENT_SECRET',
] as const;

/**
 * The environment with every `<NAME>_FILE` read into `<NAME>`. The file's content is the value, less
 * the line ends a trailing newline leaves (`echo secret > file`). Both forms set, or a file that
 * cannot be read, is a configuration error naming the variable (never the value).
 */
export function withFileSecrets(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const resolved: NodeJS.ProcessEnv = { ...env };
  const problems: string[] = [];
  for (const name of SECRET_VARIABLES) {
    const file = env[`${name}_FILE`];
    if (file === undefined || file === '') continue;
    if (env[name] !== undefined && env[name] !== '') {
      problems.push(`${name} and ${name}_FILE are both set: give one`);
      continue;
    }
    try {
      resolved[name] = readFileSync(file, 'utf8').replace(/(\r?\n)+$/, '');
    } catch (err) {
      problems.push(`${name}_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    delete resolved[`${name}_FILE`];
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return resolved;
}
