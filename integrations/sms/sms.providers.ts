import type { SmsClient, SmsProvider } from './sms.client';

/** The SMS accounts the hub sends through, in the order `sms-send` tries them. */
export interface SmsProviders {
  readonly chain: readonly SmsClient[];
  byName(provider: string): SmsClient | undefined;
  /** What a receipt push must carry in its `token` query: the vendors sign no receipts. */
  readonly receiptToken: string | null;
}

export function smsProviders(chain: readonly SmsClient[], receiptToken: string | null): SmsProviders {
  const byName = new Map<string, SmsClient>(chain.map((c) => [c.provider, c]));
  return { chain, byName: (provider) => byName.get(provider as SmsProvider), receiptToken };
}
