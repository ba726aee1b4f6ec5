import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { booleanFlag, optionalText, port } from './config-fields';
import { parseApiTokens, type ScopedApiToken } from './config-api-tokens';
import { capacityEnv, parseConcurrency } from './config-capacity';
import { checkRedisEnv, redisConfig, redisEnv, redisIsConfigured, type RedisConfig } from './config-redis';
import { appleConfig, appleEnv, checkAppleEnv, type AppleConfig } from './config-apple';
import { checkMessagingEnv, messagingConfig, messagingEnv, type MessagingConfig } from './config-messaging';
import { checkMysqlTlsEnv, mysqlTlsConfig, mysqlTlsEnv, type MysqlTls } from './config-mysql-tls';
import { checkSchoolEnv, schoolConfig, schoolEnv, type SchoolTmsConfig } from './config-school';
import { withFileSecrets } from './config-secrets';
import { checkUsersEnv, usersConfig, usersEnv, type UsersConfig } from './config-users';
import { ConfigError } from './errors';
import { describeIssues } from './validation';
import { QUEUE_NAMES, type QueueName } from './queue-names';

export { DEFAULT_JOB_SCOPE, type ApiToken, type JobScope, type ScopedApiToken } from './config-api-tokens';

/**
 * The only place that reads `process.env`. Every process calls `loadConfigOrExit()` first;
 * everything else receives the frozen `Config` it returns.
 */

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const SQL_IDENTIFIER = /^[A-Za-z0-9_]{1,64}$/;

const databaseName = optionalText.refine((v) => v === undefined || SQL_IDENTIFIER.test(v), {
  message: 'expected a database name of letters, digits and _ (at most 64)',
});

/** An address or a CIDR block (`10.0.0.0/8`, `fd00::/8`). */
function isAddressOrBlock(text: string): boolean {
  const [address = '', bits, ...rest] = text.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

export interface BoardAccount {
  readonly username: string;
  readonly password: string;
}

/** Development defaults so `npm start` works out of the box; production refuses to start without real ones. */
const DEV_API_TOKEN = 'demo-token-change-me';
/** On a laptop the developer is ops too: the demo token may run the canary and the cleanup (README quick start). */
const DEV_API_TOKENS = `demo:${DEV_API_TOKEN}:business|ops`;
/** The languages Bull Board ships (its ui/dist/static/locales). */
export const BOARD_LOCALES = ['zh-CN', 'en-US', 'en-GB', 'da-DK', 'de-DE', 'es-ES', 'fr-FR', 'ja-JP', 'ko-KR', 'pt-BR', 'ru-RU', 'tr-TR'] as const;
export type BoardLocale = (typeof BOARD_LOCALES)[number];

const DEV_BOARD_ADMIN: BoardAccount = { username: 'admin', password: 'admin' };

export const envSchema = z
  .object({
    HUB_ENV: z.enum(['development', 'production']).default('development').describe('development or production. Production requires MYSQL_URL, REDIS_URL, HUB_API_TOKENS and the dashboard account, and never creates business tables'),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info').describe('pino log level'),
    HUB_LOG_FORMAT: z.enum(['json', 'pretty']).default('json').describe('json, or pretty for reading logs by eye in development'),
    MYSQL_URL: optionalText.refine((v) => v === undefined || /^(mysql|mariadb):\/\/[^/]+\/[A-Za-z0-9_]+$/.test(v), {
      message: 'expected mysql://user:password@host:port/database',
    }).describe('Server, credentials and the default database of every system (mysql://user:password@host:port/database); development default mysql://root@127.0.0.1:3306/jobhub'),
    MYSQL_PASSWORD: optionalText.describe('The MySQL password, in place of the one in MYSQL_URL (for a password kept in a secret file: MYSQL_PASSWORD_FILE)'),
    MYSQL_TIMEZONE: z.string().regex(/^[+-]\d{2}:\d{2}$/, 'expected an offset such as +08:00').default('+08:00').describe('Session time zone of every connection: the business tables hold Beijing time'),
    ...mysqlTlsEnv,
    MARKETING_DB: databaseName.describe('Database of the marketing system (default: the database of MYSQL_URL); one transaction spans the systems on one server'),
    APP_DB: databaseName.describe('Database of the app system (default: the database of MYSQL_URL)'),
    CS_DB: databaseName.describe('Database of the customer-service system (default: the database of MYSQL_URL)'),
    DMS_DB: databaseName.describe('Database of the DMS system (default: the database of MYSQL_URL)'),
    HUB_DB: databaseName.describe('Database of the hub\'s own tables (default: the database of MYSQL_URL)'),
    HUB_MIGRATE_ON_START: booleanFlag.describe('Run the hub\'s migrations when a process starts (default true)'),
    HUB_BUSINESS_SCHEMA_ON_START: booleanFlag.describe('Create missing business tables, development and demo only (default true in development)'),
    HUB_DEMO_DATA: booleanFlag.describe('npm start creates demo orders and pays them at the emulators (default true in development with emulators)'),
    ...redisEnv,
    HUB_QUEUE_PREFIX: z.string().regex(/^[^:\s]{1,64}$/, 'expected a prefix without ":" or spaces').default('jobhub').describe('BullMQ key prefix, and the prefix of every key the hub keeps in Redis'),
    HUB_QUEUES: optionalText.refine(
      (v) => v === undefined || v.split(',').every((q) => (QUEUE_NAMES as readonly string[]).includes(q.trim())),
      { message: `expected a comma-separated subset of ${QUEUE_NAMES.join(',')}` },
    ).describe('Queues this worker process serves, comma-separated (default: all)'),
    HUB_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(25_000).describe('On SIGTERM, how long running jobs may take before they are handed back to wait'),
    HUB_JOB_LOCK_MS: z.coerce.number().int().min(1_000).max(600_000).default(30_000).describe('A job\'s lock, and the stalled-check interval: a killed worker\'s jobs run again after about this long; the same on every worker'),
    HUB_WORKER_WATCHDOG_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000).describe('How long a worker\'s blocking connection may stay down, Redis answering, before the worker is recreated'),
    HUB_PORT: port.default(3000).describe('Web (and npm start) port'),
    HUB_METRICS_PORT: port.default(9464).describe('/metrics, /healthz and /readyz of worker and clock processes (0 picks a free port)'),
    HUB_PUBLIC_URL: optionalText.refine((v) => v === undefined || /^https?:\/\/[^/]+\/?$/.test(v), {
      message: 'expected the origin browsers use, e.g. https://jobhub.example.com',
    }).describe('The dashboard\'s origin as browsers see it (https://jobhub.example.com), when a proxy in front rewrites the host or ends TLS'),
    HUB_TRUSTED_PROXIES: optionalText.refine((v) => v === undefined || v.split(',').every((a) => isAddressOrBlock(a.trim())), {
      message: 'expected comma-separated addresses or CIDR blocks of the proxies in front, e.g. 10.0.0.0/8',
    }).describe('Addresses or CIDR blocks of proxies whose X-Forwarded-For names the client (login throttling by address); unset, the header is ignored'),
    HUB_API_TOKENS: optionalText.refine((v) => v === undefined || parseApiTokens(v) !== null, {
      message:
        'expected comma-separated client:token or client:token:scope (client: letters, digits, _ or -; token: 16+ characters, no ":"; scope: job names, business or ops, joined by |)',
    }).describe('client:token[:scope], comma-separated; tokens of 16 characters or more without \':\'; scope |-separated job names, business, ops (default business); required in production (development: demo:demo-token-change-me:business|ops)'),
    BOARD_USERNAME: optionalText.describe('The dashboard\'s admin account (development: admin); required in production'),
    BOARD_PASSWORD: optionalText.describe('The admin account\'s password (development: admin); required in production, 12 characters or more'),
    BOARD_VIEWER_USERNAME: optionalText.describe('A read-only dashboard account (with BOARD_VIEWER_PASSWORD)'),
    BOARD_VIEWER_PASSWORD: optionalText.describe('The read-only dashboard account\'s password'),
    BOARD_LOGIN_MAX_FAILURES_PER_USER: z.coerce.number().int().min(1).max(10_000).default(10).describe('Failed dashboard logins allowed per user name within the window, before every login for it answers 429'),
    BOARD_LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).max(100_000).default(50).describe('Failed dashboard logins allowed per client address within the window, before every login from it answers 429'),
    HUB_BOARD_LOCALE: z.enum(BOARD_LOCALES, { message: `expected one of ${BOARD_LOCALES.join(', ')}` }).default('zh-CN').describe('The dashboard\'s language (Bull Board\'s own translations)'),
    BOARD_LOGIN_WINDOW_MS: z.coerce.number().int().min(1_000).max(86_400_000).default(900_000).describe('The window of the dashboard login throttle'),
    HUB_OUTBOX_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(1_000).describe('How often the relay looks for due hub_outbox rows'),
    HUB_SWEEP_INTERVAL_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000).describe('How often the sweepers re-enqueue work MySQL says is unfinished but Redis lost; younger work is left alone'),
    WECHAT_PAY_MODE: z.enum(['live', 'emulator']).optional().describe('emulator starts the WeChat Pay emulator in-process (refused in production); default emulator in development, live in production'),
    WECHAT_PAY_MCHID: optionalText.refine((v) => v === undefined || /^\d{8,12}$/.test(v), { message: 'expected the merchant number (digits)' }).describe('The default merchant number (a test merchant in emulator mode); others come from wx_pay_config'),
    WECHAT_PAY_APPID: optionalText.refine((v) => v === undefined || /^wx[0-9a-zA-Z]{16}$/.test(v), { message: 'expected an appid such as wx0123456789abcdef' }).describe('The default merchant\'s appid (a test app in emulator mode)'),
    WECHAT_PAY_SERIAL_NO: optionalText.refine((v) => v === undefined || /^[0-9A-Fa-f]{8,64}$/.test(v), { message: 'expected the merchant certificate serial (hex)' }).describe('The merchant certificate serial; required in live mode'),
    WECHAT_PAY_PRIVATE_KEY_FILE: optionalText.refine((v) => v === undefined || existsSync(v), { message: 'no such file' }).describe('The merchant\'s private key file; required in live mode'),
    WECHAT_PAY_API_V3_KEY: optionalText.refine((v) => v === undefined || Buffer.byteLength(v) === 32, { message: 'expected the 32-character APIv3 key' }).describe('The merchant\'s 32-character APIv3 key; required in live mode'),
    WECHAT_PAY_PUBLIC_KEY_ID: optionalText.refine((v) => v === undefined || v.startsWith('PUB_KEY_ID_'), { message: 'expected PUB_KEY_ID_…' }).describe('Public-key mode: the PUB_KEY_ID_... of the WeChat Pay public key'),
    WECHAT_PAY_PUBLIC_KEY_FILE: optionalText.refine((v) => v === undefined || existsSync(v), { message: 'no such file' }).describe('Public-key mode: the pub_key.pem file'),
    WECHAT_PAY_PLATFORM_CERT_FILES: optionalText.refine((v) => v === undefined || v.split(',').every((f) => existsSync(f.trim())), {
      message: 'expected comma-separated paths of existing certificate files',
    }).describe('Certificate mode: platform certificate files, comma-separated (with the public key during a key migration)'),
    WECHAT_PAY_BASE_URL: optionalText.refine((v) => v === undefined || /^https?:\/\/[^/]+\/?$/.test(v), { message: 'expected an origin such as https://api.mch.weixin.qq.com' }).describe('API origin (default https://api.mch.weixin.qq.com; backup https://api2.mch.weixin.qq.com)'),
    WECHAT_PAY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000).describe('Per-request timeout of WeChat Pay calls'),
    ...capacityEnv,
    ...messagingEnv,
    ...appleEnv,
    ...schoolEnv,
    ...usersEnv,
  })
  .superRefine((env, ctx) => {
    checkMessagingEnv(env, (path, message) => ctx.addIssue({ code: 'custom', path: [path], message }));
    checkAppleEnv(env, (path, message) => ctx.addIssue({ code: 'custom', path: [path], message }));
    checkSchoolEnv(env, (path, message) => ctx.addIssue({ code: 'custom', path: [path], message }));
    checkRedisEnv(env, (path, message) => ctx.addIssue({ code: 'custom', path: [path], message }));
    checkMysqlTlsEnv(env, (path, message) => ctx.addIssue({ code: 'custom', path: [path], message }));
    checkUsersEnv(env, (path, message) => ctx.addIssue({ code: 'custom', path: [path], message }));
    if (Boolean(env.BOARD_VIEWER_USERNAME) !== Boolean(env.BOARD_VIEWER_PASSWORD)) {
      const missing = env.BOARD_VIEWER_USERNAME ? 'BOARD_VIEWER_PASSWORD' : 'BOARD_VIEWER_USERNAME';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'the viewer account needs both a username and a password' });
    }
    if (Boolean(env.BOARD_USERNAME) !== Boolean(env.BOARD_PASSWORD)) {
      const missing = env.BOARD_USERNAME ? 'BOARD_PASSWORD' : 'BOARD_USERNAME';
      ctx.addIssue({ code: 'custom', path: [missing], message: 'the admin account needs both a username and a password' });
    }
    if ((env.WECHAT_PAY_MODE ?? (env.HUB_ENV === 'production' ? 'live' : 'emulator')) === 'live') {
      for (const name of ['WECHAT_PAY_MCHID', 'WECHAT_PAY_APPID', 'WECHAT_PAY_SERIAL_NO', 'WECHAT_PAY_PRIVATE_KEY_FILE', 'WECHAT_PAY_API_V3_KEY'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'required when WECHAT_PAY_MODE=live' });
      }
      if (Boolean(env.WECHAT_PAY_PUBLIC_KEY_ID) !== Boolean(env.WECHAT_PAY_PUBLIC_KEY_FILE)) {
        const missing = env.WECHAT_PAY_PUBLIC_KEY_ID ? 'WECHAT_PAY_PUBLIC_KEY_FILE' : 'WECHAT_PAY_PUBLIC_KEY_ID';
        ctx.addIssue({ code: 'custom', path: [missing], message: 'the WeChat Pay public key needs both its id and its file' });
      } else if (!env.WECHAT_PAY_PUBLIC_KEY_ID && !env.WECHAT_PAY_PLATFORM_CERT_FILES) {
        ctx.addIssue({
          code: 'custom',
          path: ['WECHAT_PAY_PUBLIC_KEY_ID'],
          message: 'WeChat Pay answers cannot be verified: set the public key (WECHAT_PAY_PUBLIC_KEY_ID and _FILE), WECHAT_PAY_PLATFORM_CERT_FILES, or both during a key migration',
        });
      }
    }
    if (env.HUB_ENV !== 'production') return;
    if (env.HUB_DEMO_DATA) ctx.addIssue({ code: 'custom', path: ['HUB_DEMO_DATA'], message: 'demo data is for development only' });
    if (env.WECHAT_PAY_MODE === 'emulator') {
      ctx.addIssue({ code: 'custom', path: ['WECHAT_PAY_MODE'], message: 'the emulator is refused when HUB_ENV=production' });
    }
    for (const name of ['MYSQL_URL', 'HUB_API_TOKENS', 'BOARD_USERNAME', 'BOARD_PASSWORD'] as const) {
      if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'required when HUB_ENV=production' });
    }
    if (!redisIsConfigured(env)) ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: 'required when HUB_ENV=production (or REDIS_SENTINELS)' });
    if (env.HUB_BUSINESS_SCHEMA_ON_START) {
      ctx.addIssue({
        code: 'custom',
        path: ['HUB_BUSINESS_SCHEMA_ON_START'],
        message: 'the business tables belong to their systems: never created by the hub in production',
      });
    }
    if (env.HUB_API_TOKENS?.includes(DEV_API_TOKEN)) {
      ctx.addIssue({ code: 'custom', path: ['HUB_API_TOKENS'], message: 'the development token is public: set real tokens' });
    }
    for (const name of ['BOARD_PASSWORD', 'BOARD_VIEWER_PASSWORD'] as const) {
      const value = env[name];
      if (value !== undefined && value.length < 12) {
        ctx.addIssue({ code: 'custom', path: [name], message: 'at least 12 characters in production' });
      }
    }
    if (env.HUB_LOG_FORMAT === 'pretty') {
      ctx.addIssue({ code: 'custom', path: ['HUB_LOG_FORMAT'], message: 'pretty logs are for development only' });
    }
  });

export type SystemName = 'marketing' | 'app' | 'customerService' | 'dms' | 'hub';

export interface MysqlConfig {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The database of MYSQL_URL: the default for every system. */
  readonly database: string;
  readonly timezone: string;
  /** Null: derived from the process's work (workers/pool-size.ts). */
  readonly poolSize: number | null;
  /** How long a query waits for a free pooled connection. */
  readonly acquireTimeoutMs: number;
  readonly databases: Readonly<Record<SystemName, string>>;
  /** TLS to the server (MYSQL_SSL_*); null: none. Every connection takes it through `mysqlSslOptions`. */
  readonly ssl: MysqlTls | null;
}

export interface Config {
  readonly env: 'development' | 'production';
  readonly log: { readonly level: (typeof LOG_LEVELS)[number]; readonly pretty: boolean };
  readonly mysql: MysqlConfig;
  readonly migrateOnStart: boolean;
  readonly businessSchemaOnStart: boolean;
  /** `npm start` in development: demo orders paid at the emulators, so every path shows in the dashboard. */
  readonly demoData: boolean;
  readonly redis: RedisConfig;
  /** Queues this process works on (HUB_QUEUES), all by default. */
  readonly queues: readonly QueueName[];
  readonly shutdownGraceMs: number;
  readonly worker: {
    /** A job's lock: a worker that dies mid-job has its job picked up again after about this long. */
    readonly lockMs: number;
    /** How long a worker's blocking connection may stay down, Redis being reachable, before the worker is recreated. */
    readonly watchdogMs: number;
    /** Jobs at once per queue where HUB_CONCURRENCY overrides the default. */
    readonly concurrency: Readonly<Partial<Record<QueueName, number>>>;
  };
  readonly http: {
    /** The web process (and `npm start`): API, dashboard, health and metrics. */
    readonly port: number;
    /** Worker and clock processes serve `/metrics`, `/healthz` and `/readyz` here. */
    readonly metricsPort: number;
    /** The origin browsers use to reach the dashboard, when a proxy in front changes host or scheme. */
    readonly publicUrl: string | null;
    /** Proxies whose X-Forwarded-For names the client (HUB_TRUSTED_PROXIES); none: the peer is the client. */
    readonly trustedProxies: readonly string[];
  };
  readonly apiTokens: readonly ScopedApiToken[];
  /** The env admin and viewer, the named users of HUB_USERS_FILE, and single sign-on (lib/config-users.ts). */
  readonly board: { readonly admin: BoardAccount; readonly viewer: BoardAccount | null; readonly locale: BoardLocale } & UsersConfig;
  /** Failed dashboard logins allowed per user name and per client address within a window, counted in Redis. */
  readonly boardLogin: { readonly maxFailuresPerUser: number; readonly maxFailuresPerAddress: number; readonly windowMs: number };
  readonly outboxPollMs: number;
  /** How often the sweepers compare MySQL with Redis; work younger than this is not yet called lost. */
  readonly sweepIntervalMs: number;
  readonly wechatPay: WechatPayConfig;
  readonly messaging: MessagingConfig;
  readonly apple: AppleConfig;
  readonly schoolTms: SchoolTmsConfig;
}

/** The default merchant (WECHAT_PAY_*); others come from `wx_pay_config` rows. */
export interface WechatPayConfig {
  /** `emulator` starts the WeChat Pay emulator in-process and points the live client at it. */
  readonly mode: 'live' | 'emulator';
  readonly mchid: string;
  readonly appid: string;
  readonly serialNo: string | null;
  readonly privateKeyFile: string | null;
  readonly apiV3Key: string | null;
  readonly publicKeyId: string | null;
  readonly publicKeyFile: string | null;
  /** Platform certificates (certificate mode): each verifies answers signed with its serial. */
  readonly platformCertFiles: readonly string[];
  readonly baseUrl: string;
  readonly timeoutMs: number;
}

/** The merchant of the emulator when no WECHAT_PAY_MCHID/APPID is set. */
const EMULATOR_MCHID = '1900000001';
const EMULATOR_APPID = 'wxd678efh567hg6787';

const DEV_MYSQL_URL = 'mysql://root@127.0.0.1:3306/jobhub';
const DEV_REDIS_URL = 'redis://127.0.0.1:6379';

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(withFileSecrets(env));
  if (!parsed.success) {
    throw new ConfigError(describeIssues(parsed.error, '(environment)'));
  }
  const e = parsed.data;
  const mysqlUrl = new URL(e.MYSQL_URL ?? DEV_MYSQL_URL);
  const database = mysqlUrl.pathname.slice(1);
  const mysql: MysqlConfig = {
    url: mysqlUrl.toString(),
    host: mysqlUrl.hostname,
    port: Number(mysqlUrl.port || 3306),
    user: decodeURIComponent(mysqlUrl.username || 'root'),
    password: e.MYSQL_PASSWORD ?? decodeURIComponent(mysqlUrl.password),
    database,
    timezone: e.MYSQL_TIMEZONE,
    poolSize: e.MYSQL_POOL_SIZE ?? null,
    acquireTimeoutMs: e.MYSQL_POOL_ACQUIRE_TIMEOUT_MS,
    ssl: mysqlTlsConfig(e),
    databases: {
      marketing: e.MARKETING_DB ?? database,
      app: e.APP_DB ?? database,
      customerService: e.CS_DB ?? database,
      dms: e.DMS_DB ?? database,
      hub: e.HUB_DB ?? database,
    },
  };
  const queues = e.HUB_QUEUES ? [...new Set(e.HUB_QUEUES.split(',').map((q) => q.trim() as QueueName))] : [...QUEUE_NAMES];
  return deepFreeze({
    env: e.HUB_ENV,
    log: { level: e.LOG_LEVEL, pretty: e.HUB_LOG_FORMAT === 'pretty' },
    mysql,
    migrateOnStart: e.HUB_MIGRATE_ON_START ?? true,
    businessSchemaOnStart: e.HUB_BUSINESS_SCHEMA_ON_START ?? e.HUB_ENV === 'development',
    demoData: e.HUB_DEMO_DATA ?? (e.HUB_ENV === 'development' && (e.WECHAT_PAY_MODE ?? 'emulator') === 'emulator'),
    redis: redisConfig(e, DEV_REDIS_URL),
    queues,
    shutdownGraceMs: e.HUB_SHUTDOWN_GRACE_MS,
    worker: { lockMs: e.HUB_JOB_LOCK_MS, watchdogMs: e.HUB_WORKER_WATCHDOG_MS, concurrency: parseConcurrency(e.HUB_CONCURRENCY) },
    http: {
      port: e.HUB_PORT,
      metricsPort: e.HUB_METRICS_PORT,
      publicUrl: e.HUB_PUBLIC_URL ?? null,
      trustedProxies: e.HUB_TRUSTED_PROXIES?.split(',').map((a) => a.trim()) ?? [],
    },
    apiTokens: parseApiTokens(e.HUB_API_TOKENS ?? DEV_API_TOKENS) ?? [],
    board: {
      admin: e.BOARD_USERNAME && e.BOARD_PASSWORD ? { username: e.BOARD_USERNAME, password: e.BOARD_PASSWORD } : DEV_BOARD_ADMIN,
      viewer:
        e.BOARD_VIEWER_USERNAME && e.BOARD_VIEWER_PASSWORD
          ? { username: e.BOARD_VIEWER_USERNAME, password: e.BOARD_VIEWER_PASSWORD }
          : null,
      locale: e.HUB_BOARD_LOCALE,
      ...usersConfig(e),
    },
    boardLogin: {
      maxFailuresPerUser: e.BOARD_LOGIN_MAX_FAILURES_PER_USER,
      maxFailuresPerAddress: e.BOARD_LOGIN_MAX_FAILURES_PER_ADDRESS,
      windowMs: e.BOARD_LOGIN_WINDOW_MS,
    },
    outboxPollMs: e.HUB_OUTBOX_POLL_MS,
    sweepIntervalMs: e.HUB_SWEEP_INTERVAL_MS,
    wechatPay: {
      mode: e.WECHAT_PAY_MODE ?? (e.HUB_ENV === 'production' ? 'live' : 'emulator'),
      mchid: e.WECHAT_PAY_MCHID ?? EMULATOR_MCHID,
      appid: e.WECHAT_PAY_APPID ?? EMULATOR_APPID,
      serialNo: e.WECHAT_PAY_SERIAL_NO ?? null,
      privateKeyFile: e.WECHAT_PAY_PRIVATE_KEY_FILE ?? null,
      apiV3Key: e.WECHAT_PAY_API_V3_KEY ?? null,
      publicKeyId: e.WECHAT_PAY_PUBLIC_KEY_ID ?? null,
      publicKeyFile: e.WECHAT_PAY_PUBLIC_KEY_FILE ?? null,
      platformCertFiles: e.WECHAT_PAY_PLATFORM_CERT_FILES?.split(',').map((f) => f.trim()) ?? [],
      baseUrl: (e.WECHAT_PAY_BASE_URL ?? 'https://api.mch.weixin.qq.com').replace(/\/$/, ''),
      timeoutMs: e.WECHAT_PAY_TIMEOUT_MS,
    },
    messaging: messagingConfig(e),
    apple: appleConfig(e),
    schoolTms: schoolConfig(e),
  });
}

/** For process entry points: reads `.env` if present (real variables win), then exits 1 listing every bad variable. */
export function loadConfigOrExit(): Config {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`jobhub: invalid configuration\n${err.problems.map((p) => `  - ${p}`).join('\n')}`);
      process.exit(1);
    }
    throw err;
  }
}

/**
 * The value a secret reference names: `file:/path` (the file's content, trimmed) or `env:NAME`
 * (a variable). `wx_pay_config` rows hold such references, never the secrets themselves.
 */
export function readSecretRef(ref: string, env: NodeJS.ProcessEnv = process.env): string {
  const match = /^(file|env):(.+)$/.exec(ref.trim());
  if (!match?.[1] || !match[2]) throw new ConfigError([`secret reference must be file:/path or env:NAME (got a ${ref.length}-character value)`]);
  const [, kind, target] = match;
  if (kind === 'file') {
    if (!existsSync(target)) throw new ConfigError([`secret file ${target} does not exist`]);
    return readFileSync(target, 'utf8').trim();
  }
  const value = env[target];
  if (!value) throw new ConfigError([`secret variable ${target} is not set`]);
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
