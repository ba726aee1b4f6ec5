import type { DataSource } from 'typeorm';
import { WxPayConfig } from '../../entities/marketing/wx-pay-config.entity';
import { readSecretRef } from '../../lib/config';
import { PermanentError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { MerchantCredentials, WechatPayClient } from './wechat-pay.client';
import { rowClientCache } from '../row-client-cache';
import { loadMerchantCredentials } from './wechat-pay.credentials';

/** Every merchant the hub acts for: the default one (WECHAT_PAY_*) and the enabled `wx_pay_config` rows. */
export interface WechatPayMerchants {
  readonly defaultMchid: string;
  /** @throws UnknownMerchantError when neither the default nor an enabled row has this mchid. */
  client(mchid: string): Promise<WechatPayClient>;
  /** The default merchant first, then each enabled row's. */
  list(): Promise<string[]>;
}

/** Neither the default merchant nor an enabled wx_pay_config row has this mchid. */
export class UnknownMerchantError extends PermanentError {
  constructor(readonly mchid: string) {
    super('UNKNOWN_MERCHANT', `no enabled wx_pay_config row and no WECHAT_PAY_MCHID for merchant ${mchid}`);
  }
}

export type ClientFactory = (credentials: MerchantCredentials) => WechatPayClient;

/**
 * The merchants registry. Row merchants' keys are read from the files and references the row
 * names (never from the row itself) when first used, and cached with their client.
 */
export function createMerchants(deps: {
  defaultClient: WechatPayClient;
  db: DataSource;
  makeClient: ClientFactory;
  log: Logger;
  now?: () => number;
}): WechatPayMerchants {
  const { defaultClient } = deps;
  const cache = rowClientCache<WechatPayClient>(deps.now);
  const fromRow = async (mchid: string): Promise<WechatPayClient | null> => {
    const row = await deps.db.getRepository(WxPayConfig).findOne({ where: { mchid, enabled: 1, deleted: 0 }, order: { id: 'ASC' } });
    if (!row) return null;
    const credentials = loadMerchantCredentials({
      mchid: row.mchid,
      appid: row.appid,
      serialNo: row.merchantSerialNo,
      privateKeyFile: row.privateKeyFile,
      apiV3Key: readSecretRef(row.apiV3KeyRef),
      ...(row.wechatpayPublicKeyId && row.wechatpayPublicKeyFile
        ? { publicKeyId: row.wechatpayPublicKeyId, publicKeyFile: row.wechatpayPublicKeyFile }
        : {}),
    });
    deps.log.info({ mchid }, 'wechat pay merchant loaded from wx_pay_config');
    return deps.makeClient(credentials);
  };

  return {
    defaultMchid: defaultClient.mchid,
    async client(mchid) {
      if (mchid === defaultClient.mchid) return defaultClient;
      const client = await cache(mchid, () => fromRow(mchid));
      if (!client) throw new UnknownMerchantError(mchid);
      return client;
    },
    async list() {
      const rows = await deps.db
        .getRepository(WxPayConfig)
        .createQueryBuilder('c')
        .select('DISTINCT c.mchid', 'mchid')
        .where('c.enabled = 1 AND c.deleted = 0')
        .orderBy('c.mchid')
        .getRawMany<{ mchid: string }>();
      return [defaultClient.mchid, ...rows.map((r) => r.mchid).filter((m) => m !== defaultClient.mchid)];
    },
  };
}
