import type { RedisConnection } from '../../lib/redis';
import type { DataSource } from 'typeorm';
import type { Config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { notOpened, type OpenedIntegration } from '../opened-integration';
import { createWechatMpAccounts, type WechatMpAccounts } from './wechat-mp.accounts';
import { LiveWechatMpClient } from './wechat-mp.live';
import type { WechatMpEmulator } from './emulator/wechat-mp.emulator';
import { hubRedisKeys } from '../../lib/redis-keys';

export type OpenedWechatMp = OpenedIntegration<WechatMpAccounts, { readonly wechatMp?: WechatMpEmulator }>;

/**
 * The default official account and mini-program from configuration, others from their account
 * tables; access tokens are shared through Redis. In emulator mode the emulator starts here,
 * knowing the configured apps, and the live client talks to it.
 */
export async function openWechatMp(config: Pick<Config, 'messaging' | 'redis'>, db: DataSource, redis: RedisConnection, log: Logger): Promise<OpenedWechatMp> {
  const mp = config.messaging.wechatMp;
  const mpLog = log.child({ integration: 'wechat-mp' });
  let baseUrl = mp.baseUrl;
  let emulator: WechatMpEmulator | undefined;
  if (mp.mode === 'emulator') {
    // Loaded only here: a live process never carries the emulator's code.
    const { WechatMpEmulator } = await import('./emulator/wechat-mp.emulator');
    emulator = await WechatMpEmulator.start();
    for (const account of [mp.officialAccount, mp.miniapp]) if (account) emulator.addApp({ ...account });
    baseUrl = emulator.baseUrl;
    mpLog.info({ baseUrl }, 'wechat mp emulator started');
  }
  const client = createWechatMpAccounts({
    db,
    defaults: { 'official-account': mp.officialAccount, miniapp: mp.miniapp },
    makeClient: (account) => new LiveWechatMpClient({ baseUrl, ...account, redis, keyPrefix: hubRedisKeys(config.redis).queuePrefix('wechat-messages'), timeoutMs: mp.timeoutMs, log: mpLog }),
    log: mpLog,
  });
  return { client, emulators: emulator ? { wechatMp: emulator } : {}, close: async () => void (await emulator?.stop()) };
}

/** For processes that open no WeChat app; using it fails, saying so. */
export const NO_WECHAT_MP: WechatMpAccounts = { client: notOpened('WeChat messaging') };
