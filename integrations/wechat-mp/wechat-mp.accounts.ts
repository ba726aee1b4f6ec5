import type { DataSource } from 'typeorm';
import { WxMiniappAccount } from '../../entities/marketing/wx-miniapp-account.entity';
import { WxMpAccount } from '../../entities/marketing/wx-mp-account.entity';
import { readSecretRef } from '../../lib/config';
import { PermanentError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { rowClientCache } from '../row-client-cache';
import type { WechatMpAccount, WechatMpClient } from './wechat-mp.client';

export type WechatAppKind = 'official-account' | 'miniapp';

/** The WeChat apps messages go out from: the configured defaults and the enabled account rows. */
export interface WechatMpAccounts {
  /** @throws UnknownWechatAppError when `appid` is neither the default nor an enabled row. */
  client(kind: WechatAppKind, appid?: string): Promise<WechatMpClient>;
}

export class UnknownWechatAppError extends PermanentError {
  constructor(kind: WechatAppKind, appid: string | undefined) {
    super(
      'UNKNOWN_APPID',
      appid
        ? `no enabled ${kind === 'miniapp' ? 'wx_miniapp_account' : 'wx_mp_account'} row and no default ${kind} for appid ${appid}`
        : `no default ${kind} is configured (${kind === 'miniapp' ? 'WECHAT_MINIAPP_APPID' : 'WECHAT_MP_APPID'}): name the appid`,
    );
  }
}

export type WechatMpClientFactory = (account: WechatMpAccount) => WechatMpClient;

/**
 * Clients by app, built once and cached: their token lives in Redis anyway. Row secrets are
 * references (`file:` / `env:`), read when the app is first used.
 */
export function createWechatMpAccounts(deps: {
  db: DataSource;
  defaults: Readonly<Record<WechatAppKind, WechatMpAccount | null>>;
  makeClient: WechatMpClientFactory;
  log: Logger;
  now?: () => number;
}): WechatMpAccounts {
  const defaults = new Map<WechatAppKind, WechatMpClient>();
  const cache = rowClientCache<WechatMpClient>(deps.now);
  const fromRow = async (kind: WechatAppKind, appid: string): Promise<WechatMpClient | null> => {
    const entity = kind === 'miniapp' ? WxMiniappAccount : WxMpAccount;
    const row = await deps.db.getRepository(entity).findOne({ where: { appid, enabled: 1, deleted: 0 } });
    if (!row) return null;
    deps.log.info({ appid, kind }, 'wechat app loaded from its account row');
    return deps.makeClient({ appid: row.appid, secret: readSecretRef(row.secretRef) });
  };

  return {
    async client(kind, appid) {
      const fallback = deps.defaults[kind];
      if (fallback && (appid === undefined || appid === fallback.appid)) {
        let client = defaults.get(kind);
        if (!client) defaults.set(kind, (client = deps.makeClient(fallback)));
        return client;
      }
      if (appid === undefined) throw new UnknownWechatAppError(kind, appid);
      const client = await cache(`${kind} ${appid}`, () => fromRow(kind, appid));
      if (!client) throw new UnknownWechatAppError(kind, appid);
      return client;
    },
  };
}
