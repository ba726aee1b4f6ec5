import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, readSecretRef } from '../../lib/config';
import { configProblems } from '../support/env';

/** The scope of a token without one: every business job, no ops job. */
const BUSINESS = { business: true, ops: false, jobs: [] };

/** The problems of a configuration that must not load. */
function problemsOf(env: NodeJS.ProcessEnv): string[] {
  const problems = configProblems(env);
  if (problems.length === 0) throw new Error('expected a ConfigError');
  return [...problems];
}

/** A live WeChat Pay merchant: what production needs besides the hub's own settings. */
const LIVE_WECHAT_PAY = {
  WECHAT_PAY_MCHID: '1230000109',
  WECHAT_PAY_APPID: 'wx0123456789abcdef',
  WECHAT_PAY_SERIAL_NO: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
  WECHAT_PAY_PRIVATE_KEY_FILE: __filename,
  WECHAT_PAY_API_V3_KEY: '0123456789abcdefghijklmnopqrstuv',
  WECHAT_PAY_PUBLIC_KEY_ID: 'PUB_KEY_ID_0114232134912410000000000000',
  WECHAT_PAY_PUBLIC_KEY_FILE: __filename,
};

/** Live SMS accounts, the receipt token and the mail route ops alerts take: what production needs for messaging. */
const LIVE_MESSAGING = {
  ALIYUN_SMS_ACCESS_KEY_ID: 'LTAI5tExampleKeyId',
  ALIYUN_SMS_ACCESS_KEY_SECRET: 'example-access-key-secret',
  TENCENT_SMS_SECRET_ID: 'AKIDexampleSecretId',
  TENCENT_SMS_SECRET_KEY: 'example-secret-key',
  TENCENT_SMS_SDK_APP_ID: '1400000001',
  SMS_RECEIPT_TOKEN: 'receipt-token-0123456789',
  SMTP_URL: 'smtps://hub:pw@smtp.example.com:465',
  MAIL_FROM: 'jobhub <jobhub@example.com>',
  OPS_EMAILS: 'ops@example.com,finance@example.com',
};

const LIVE_MESSAGING_REQUIRED = Object.keys(LIVE_MESSAGING);

/** A live App Store app: the API key, the app's ids and Apple's roots. */
const LIVE_APPLE = {
  APPLE_BUNDLE_ID: 'com.example.app',
  APPLE_APP_APPLE_ID: '1234567890',
  APPLE_ISSUER_ID: '57246542-96fe-1a63-e053-0824d011072a',
  APPLE_KEY_ID: '2X9R4HXF34',
  APPLE_PRIVATE_KEY_FILE: __filename,
  APPLE_ROOT_CA_FILES: `${__filename},${__filename}`,
};

const LIVE_APPLE_REQUIRED = Object.keys(LIVE_APPLE);

/** The live school system: its origin and the OAuth client. */
const LIVE_SCHOOL = { SCHOOL_TMS_BASE_URL: 'https://tms.example.edu.cn', SCHOOL_TMS_CLIENT_ID: 'jobhub', SCHOOL_TMS_CLIENT_SECRET: 'school-secret' };

const LIVE_SCHOOL_REQUIRED = Object.keys(LIVE_SCHOOL);

/** What live mode names when nothing of the merchant is set, sorted. */
const LIVE_WECHAT_PAY_REQUIRED = [
  'WECHAT_PAY_API_V3_KEY',
  'WECHAT_PAY_APPID',
  'WECHAT_PAY_MCHID',
  'WECHAT_PAY_PRIVATE_KEY_FILE',
  'WECHAT_PAY_PUBLIC_KEY_ID',
  'WECHAT_PAY_SERIAL_NO',
];

describe('loadConfig', () => {
  it('names every bad variable at once, not just the first', () => {
    const problems = problemsOf({
      HUB_ENV: 'staging',
      MYSQL_URL: 'postgres://x',
      REDIS_URL: 'localhost:6379',
      HUB_QUEUES: 'payments,nope',
      MYSQL_POOL_SIZE: 'many',
      HUB_MIGRATE_ON_START: 'perhaps',
      CS_DB: 'bad-name!',
    });
    const named = problems.map((p) => p.split(':')[0]);
    expect(named.sort()).toEqual(['CS_DB', 'HUB_ENV', 'HUB_MIGRATE_ON_START', 'HUB_QUEUES', 'MYSQL_POOL_SIZE', 'MYSQL_URL', 'REDIS_URL']);
  });

  it('requires explicit connections in production and refuses creating business tables there', () => {
    const problems = problemsOf({ HUB_ENV: 'production', HUB_BUSINESS_SCHEMA_ON_START: 'true' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'BOARD_PASSWORD',
      'BOARD_USERNAME',
      'HUB_API_TOKENS',
      'HUB_BUSINESS_SCHEMA_ON_START',
      'MYSQL_URL',
      'REDIS_URL',
      ...LIVE_WECHAT_PAY_REQUIRED,
      ...LIVE_MESSAGING_REQUIRED,
      ...LIVE_APPLE_REQUIRED,
      ...LIVE_SCHOOL_REQUIRED,
    ].sort());
  });

  it('refuses the development credentials and short dashboard passwords in production', () => {
    const problems = problemsOf({
      HUB_ENV: 'production',
      ...LIVE_WECHAT_PAY,
      ...LIVE_MESSAGING,
      ...LIVE_APPLE,
      ...LIVE_SCHOOL,
      MYSQL_URL: 'mysql://hub:pw@db:3306/hub',
      REDIS_URL: 'redis://redis:6379',
      HUB_API_TOKENS: 'crm:0123456789abcdef0123,demo:demo-token-change-me',
      BOARD_USERNAME: 'ops',
      BOARD_PASSWORD: 'admin',
      BOARD_VIEWER_USERNAME: 'look',
      BOARD_VIEWER_PASSWORD: 'short',
    });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['BOARD_PASSWORD', 'BOARD_VIEWER_PASSWORD', 'HUB_API_TOKENS']);
  });

  it('parses API tokens and dashboard accounts, and wants both halves of an account', () => {
    const config = loadConfig({
      HUB_API_TOKENS: ' crm:0123456789abcdef , app-backend:fedcba9876543210xyz',
      BOARD_USERNAME: 'ops',
      BOARD_PASSWORD: 'a-long-password',
      BOARD_VIEWER_USERNAME: 'finance',
      BOARD_VIEWER_PASSWORD: 'another-password',
      HUB_PORT: '8080',
    });
    expect(config.apiTokens).toEqual([
      { client: 'crm', token: '0123456789abcdef', scope: BUSINESS },
      { client: 'app-backend', token: 'fedcba9876543210xyz', scope: BUSINESS },
    ]);
    expect(config.board).toEqual({ admin: { username: 'ops', password: 'a-long-password' }, viewer: { username: 'finance', password: 'another-password' }, locale: 'zh-CN', users: [], trustedUser: null });
    expect(config.http).toEqual({ port: 8080, metricsPort: 9464, publicUrl: null, trustedProxies: [] });
    expect(problemsOf({ HUB_API_TOKENS: 'crm:short' })[0]).toMatch(/^HUB_API_TOKENS: /);
    expect(problemsOf({ HUB_API_TOKENS: 'no-colon-here-0123456789' })[0]).toMatch(/^HUB_API_TOKENS: /);
    expect(problemsOf({ BOARD_VIEWER_USERNAME: 'finance' })[0]).toMatch(/^BOARD_VIEWER_PASSWORD: /);
    expect(problemsOf({ BOARD_PASSWORD: 'x' })[0]).toMatch(/^BOARD_USERNAME: /);
    expect(problemsOf({ HUB_PUBLIC_URL: 'jobhub.example.com/admin' })[0]).toMatch(/^HUB_PUBLIC_URL: /);
    expect(loadConfig({ HUB_PUBLIC_URL: 'https://jobhub.example.com' }).http.publicUrl).toBe('https://jobhub.example.com');
  });

  it('reads an optional scope per API token: job names, business and ops joined by |; none means every business job', () => {
    const config = loadConfig({
      HUB_API_TOKENS: 'crm:0123456789abcdef,ops:0123456789abcdef-ops:ops,monitor:0123456789abcdef-mon:hub-canary,dev:0123456789abcdef-dev:business|ops|hub-canary|hub-canary',
    });
    expect(config.apiTokens.map(({ client, scope }) => ({ client, scope }))).toEqual([
      { client: 'crm', scope: BUSINESS },
      { client: 'ops', scope: { business: false, ops: true, jobs: [] } },
      { client: 'monitor', scope: { business: false, ops: false, jobs: ['hub-canary'] } },
      { client: 'dev', scope: { business: true, ops: true, jobs: ['hub-canary'] } },
    ]);
    expect(config.apiTokens[1]?.token).toBe('0123456789abcdef-ops');
    const secret = 'secret-token-0123456789';
    for (const bad of [`crm:${secret}:`, `crm:${secret}:Business`, `crm:${secret}:business||ops`, `crm:${secret}:hub_canary`, `crm:${secret}:ops:more`, `crm:${secret}:ops,`]) {
      const problems = problemsOf({ HUB_API_TOKENS: bad });
      expect({ bad, problems: problems.map((p) => p.split(':')[0]) }).toEqual({ bad, problems: ['HUB_API_TOKENS'] });
      expect(problems.join('\n')).not.toContain(secret);
    }
  });

  it('gives a laptop working defaults and every system the database of MYSQL_URL', () => {
    const config = loadConfig({});
    expect(config.env).toBe('development');
    expect(config.mysql).toMatchObject({ host: '127.0.0.1', port: 3306, user: 'root', database: 'jobhub', timezone: '+08:00' });
    expect(Object.values(config.mysql.databases)).toEqual(['jobhub', 'jobhub', 'jobhub', 'jobhub', 'jobhub']);
    expect(config.queues).toContain('messages');
    expect(config.businessSchemaOnStart).toBe(true);
    expect(config.apiTokens).toEqual([{ client: 'demo', token: 'demo-token-change-me', scope: { business: true, ops: true, jobs: [] } }]);
    expect(config.board).toEqual({ admin: { username: 'admin', password: 'admin' }, viewer: null, locale: 'zh-CN', users: [], trustedUser: null });
    expect(config.http).toEqual({ port: 3000, metricsPort: 9464, publicUrl: null, trustedProxies: [] });
  });

  it('parses credentials, per-system databases and the queue selection', () => {
    const config = loadConfig({
      HUB_ENV: 'production',
      ...LIVE_WECHAT_PAY,
      ...LIVE_MESSAGING,
      ...LIVE_APPLE,
      ...LIVE_SCHOOL,
      MYSQL_URL: 'mysql://hub:p%40ss@db.internal:3307/hubdb',
      REDIS_URL: 'redis://:secret@redis.internal:6380/2',
      MARKETING_DB: 'marketing',
      HUB_QUEUES: 'sms, email',
      HUB_API_TOKENS: 'crm:0123456789abcdef0123',
      BOARD_USERNAME: 'ops',
      BOARD_PASSWORD: 'a-long-password',
    });
    expect(config.mysql).toMatchObject({ user: 'hub', password: 'p@ss', port: 3307, database: 'hubdb' });
    expect(config.mysql.databases).toEqual({ marketing: 'marketing', app: 'hubdb', customerService: 'hubdb', dms: 'hubdb', hub: 'hubdb' });
    expect(config.queues).toEqual(['sms', 'email']);
    expect(config.businessSchemaOnStart).toBe(false);
  });

  it('runs WeChat Pay on its emulator in development and live in production, where the emulator is refused', () => {
    const dev = loadConfig({});
    expect(dev.wechatPay).toMatchObject({ mode: 'emulator', mchid: '1900000001', baseUrl: 'https://api.mch.weixin.qq.com', timeoutMs: 10_000 });
    const live = loadConfig({ ...LIVE_WECHAT_PAY, WECHAT_PAY_MODE: 'live', WECHAT_PAY_BASE_URL: 'https://api2.mch.weixin.qq.com/' });
    expect(live.wechatPay).toMatchObject({ mode: 'live', mchid: '1230000109', baseUrl: 'https://api2.mch.weixin.qq.com' });
    expect(problemsOf({ WECHAT_PAY_MODE: 'live' }).map((p) => p.split(':')[0]).sort()).toEqual(LIVE_WECHAT_PAY_REQUIRED);
    const bad = problemsOf({
      ...LIVE_WECHAT_PAY,
      WECHAT_PAY_MODE: 'live',
      WECHAT_PAY_API_V3_KEY: 'too-short',
      WECHAT_PAY_PRIVATE_KEY_FILE: '/no/such/apiclient_key.pem',
      WECHAT_PAY_PUBLIC_KEY_FILE: '',
    });
    expect(bad.map((p) => p.split(':')[0]).sort()).toEqual(['WECHAT_PAY_API_V3_KEY', 'WECHAT_PAY_PRIVATE_KEY_FILE', 'WECHAT_PAY_PUBLIC_KEY_FILE']);
    expect(bad.join('\n')).not.toContain('too-short');
    // Certificate mode instead of the public key: answers are verified by the certificates' serials.
    const certificates = loadConfig({ ...LIVE_WECHAT_PAY, WECHAT_PAY_MODE: 'live', WECHAT_PAY_PUBLIC_KEY_ID: '', WECHAT_PAY_PUBLIC_KEY_FILE: '', WECHAT_PAY_PLATFORM_CERT_FILES: `${__filename}, ${__filename}` });
    expect(certificates.wechatPay.platformCertFiles).toEqual([__filename, __filename]);
    expect(problemsOf({ ...LIVE_WECHAT_PAY, WECHAT_PAY_MODE: 'live', WECHAT_PAY_PLATFORM_CERT_FILES: '/no/such/cert.pem' })[0]).toMatch(/^WECHAT_PAY_PLATFORM_CERT_FILES: /);
    const emulatorInProduction = problemsOf({ HUB_ENV: 'production', WECHAT_PAY_MODE: 'emulator' });
    expect(emulatorInProduction).toContainEqual(expect.stringMatching(/^WECHAT_PAY_MODE: .*refused/));
  });

  it('reads secret references from a file or a variable, never taking a value as a reference', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'jobhub-secret-')), 'apiv3.key');
    writeFileSync(file, '0123456789abcdefghijklmnopqrstuv\n');
    expect(readSecretRef(`file:${file}`)).toBe('0123456789abcdefghijklmnopqrstuv');
    expect(readSecretRef('env:MERCHANT_B_APIV3', { MERCHANT_B_APIV3: 'from-the-variable' })).toBe('from-the-variable');
    expect(() => readSecretRef('env:MISSING_VAR', {})).toThrow(/MISSING_VAR is not set/);
    expect(() => readSecretRef('file:/no/such/file')).toThrow(/does not exist/);
    let message = '';
    try {
      readSecretRef('a-secret-pasted-by-mistake');
    } catch (err) {
      message = String(err);
    }
    expect(message).toMatch(/file:\/path or env:NAME/);
    expect(message).not.toContain('pasted');
  });

  it('starts every messaging emulator on a laptop, and names each live credential, the receipt token and the mail route otherwise', () => {
    const dev = loadConfig({}).messaging;
    expect(dev.sms).toMatchObject({ mode: 'emulator', providers: ['aliyun', 'tencent'], ratePerSecond: 100, aliyun: null, tencent: null });
    expect(dev.sms.receiptToken).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    expect(dev.wechatMp.mode).toBe('emulator');
    expect(dev.wechatMp.officialAccount?.appid).toMatch(/^wx[0-9a-zA-Z]{16}$/);
    expect(dev.mail.smtpUrl).toBeNull();
    expect([...dev.notify.recipients]).toEqual([['*', 'member']]);

    const liveTencentOnly = problemsOf({ SMS_MODE: 'live', SMS_PROVIDERS: 'tencent' });
    expect(liveTencentOnly.map((p) => p.split(':')[0]).sort()).toEqual(['SMS_RECEIPT_TOKEN', 'TENCENT_SMS_SDK_APP_ID', 'TENCENT_SMS_SECRET_ID', 'TENCENT_SMS_SECRET_KEY']);
    const live = loadConfig({ ...LIVE_MESSAGING, SMS_MODE: 'live', SMS_PROVIDERS: 'tencent,aliyun', SMS_RATE_LIMIT_PER_SECOND: '500', NOTIFY_RECIPIENTS: 'crm:member, app:user ,*:user' }).messaging;
    expect(live.sms.providers).toEqual(['tencent', 'aliyun']);
    expect(live.sms.ratePerSecond).toBe(500);
    expect(live.sms.tencent).toMatchObject({ sdkAppId: '1400000001', region: 'ap-guangzhou', endpoint: 'https://sms.tencentcloudapi.com' });
    expect(live.opsEmails).toEqual(['ops@example.com', 'finance@example.com']);
    expect([...live.notify.recipients]).toEqual([['crm', 'member'], ['app', 'user'], ['*', 'user']]);

    expect(problemsOf({ SMS_PROVIDERS: 'aliyun,twilio' })[0]).toMatch(/^SMS_PROVIDERS: /);
    expect(problemsOf({ OPS_EMAILS: 'ops@example.com,not-an-address' })[0]).toMatch(/^OPS_EMAILS: /);
    expect(problemsOf({ NOTIFY_RECIPIENTS: 'crm:customer' })[0]).toMatch(/^NOTIFY_RECIPIENTS: /);
    expect(problemsOf({ SMTP_URL: 'http://smtp.example.com' })[0]).toMatch(/^SMTP_URL: /);
    expect(problemsOf({ WECHAT_MP_MODE: 'live', WECHAT_MP_APPID: 'wx0123456789abcdef' })[0]).toMatch(/^WECHAT_MP_SECRET: /);
    const emulators = problemsOf({ HUB_ENV: 'production', SMS_MODE: 'emulator', WECHAT_MP_MODE: 'emulator' });
    expect(emulators).toContainEqual(expect.stringMatching(/^SMS_MODE: .*refused/));
    expect(emulators).toContainEqual(expect.stringMatching(/^WECHAT_MP_MODE: .*refused/));
  });

  it('runs the App Store emulator on a laptop, and live names each credential, the roots and the app Apple id Production needs', () => {
    const dev = loadConfig({}).apple;
    expect(dev).toMatchObject({ mode: 'emulator', environments: ['Production', 'Sandbox'], onlineChecks: false, sandboxGrantsVip: true, apiBaseUrl: null });
    expect(dev.appAppleId).toEqual(expect.any(Number));
    expect(problemsOf({ APPLE_MODE: 'live' }).map((p) => p.split(':')[0]).sort()).toEqual(LIVE_APPLE_REQUIRED.sort());
    const live = loadConfig({ ...LIVE_APPLE, APPLE_MODE: 'live', APPLE_ENVIRONMENTS: 'Sandbox, Production', APPLE_SANDBOX_GRANTS_VIP: 'false' }).apple;
    expect(live).toMatchObject({ mode: 'live', appAppleId: 1234567890, environments: ['Sandbox', 'Production'], onlineChecks: true, sandboxGrantsVip: false, rootCaFiles: [__filename, __filename] });
    const sandboxOnly = problemsOf({ ...LIVE_APPLE, APPLE_MODE: 'live', APPLE_APP_APPLE_ID: '', APPLE_ENVIRONMENTS: 'Sandbox', APPLE_KEY_ID: 'short' });
    expect(sandboxOnly.map((p) => p.split(':')[0])).toEqual(['APPLE_KEY_ID']);
    expect(problemsOf({ APPLE_ENVIRONMENTS: 'Production,Xcode' })[0]).toMatch(/^APPLE_ENVIRONMENTS: /);
    expect(problemsOf({ APPLE_ROOT_CA_FILES: '/no/such/AppleRootCA-G3.cer' })[0]).toMatch(/^APPLE_ROOT_CA_FILES: /);
    expect(problemsOf({ HUB_ENV: 'production', APPLE_MODE: 'emulator' })).toContainEqual(expect.stringMatching(/^APPLE_MODE: .*refused/));
  });

  it('runs the school system emulator on a laptop; live names its origin and client; production refuses the emulator', () => {
    expect(loadConfig({}).schoolTms).toMatchObject({ mode: 'emulator', baseUrl: null, pageSize: 500, timeoutMs: 10_000 });
    expect(problemsOf({ SCHOOL_TMS_MODE: 'live' }).map((p) => p.split(':')[0]).sort()).toEqual(LIVE_SCHOOL_REQUIRED.sort());
    expect(loadConfig({ ...LIVE_SCHOOL, SCHOOL_TMS_MODE: 'live', SCHOOL_TMS_PAGE_SIZE: '200' }).schoolTms).toMatchObject({
      mode: 'live', baseUrl: 'https://tms.example.edu.cn', clientId: 'jobhub', clientSecret: 'school-secret', pageSize: 200,
    });
    expect(problemsOf({ SCHOOL_TMS_PAGE_SIZE: '501' })[0]).toMatch(/^SCHOOL_TMS_PAGE_SIZE: /);
    expect(problemsOf({ HUB_ENV: 'production', SCHOOL_TMS_MODE: 'emulator' })).toContainEqual(expect.stringMatching(/^SCHOOL_TMS_MODE: .*refused/));
  });

  it('is frozen all the way down', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.mysql.databases)).toBe(true);
  });

  it('throttles dashboard logins by default, and takes trusted proxies as addresses or CIDR blocks only', () => {
    expect(loadConfig({}).boardLogin).toEqual({ maxFailuresPerUser: 10, maxFailuresPerAddress: 50, windowMs: 900_000 });
    const config = loadConfig({ BOARD_LOGIN_MAX_FAILURES_PER_USER: '5', BOARD_LOGIN_WINDOW_MS: '60000', HUB_TRUSTED_PROXIES: '10.0.0.0/8, 192.0.2.1,fd00::/8' });
    expect(config.boardLogin).toEqual({ maxFailuresPerUser: 5, maxFailuresPerAddress: 50, windowMs: 60_000 });
    expect(config.http.trustedProxies).toEqual(['10.0.0.0/8', '192.0.2.1', 'fd00::/8']);
    expect(problemsOf({ BOARD_LOGIN_MAX_FAILURES_PER_USER: '0', BOARD_LOGIN_WINDOW_MS: '10' }).map((p) => p.split(':')[0]).sort()).toEqual([
      'BOARD_LOGIN_MAX_FAILURES_PER_USER',
      'BOARD_LOGIN_WINDOW_MS',
    ]);
    for (const bad of ['ingress', '10.0.0.0/33', '10.0.0.1/8/1', '*']) {
      expect(problemsOf({ HUB_TRUSTED_PROXIES: bad })[0]).toMatch(/^HUB_TRUSTED_PROXIES: /);
    }
  });
});
