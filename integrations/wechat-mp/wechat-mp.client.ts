/**
 * Messages to WeChat users: Official Account template messages and mini-program subscribe messages.
 * One client per app account (appid + secret); the access token is shared through Redis (wechat-mp.token.ts).
 */

/** An app account: an Official Account or a mini-program. */
export interface WechatMpAccount {
  appid: string;
  secret: string;
}

/** Template fields by key (`thing1`, `time2`, …): plain values; the client wraps them as `{value}` and trims them to WeChat's limits. */
export type TemplateData = Readonly<Record<string, string>>;

/** Where a template message leads: a web page, or a mini-program page (which wins when both are given). */
export interface TemplateTarget {
  url?: string;
  miniprogram?: { appid: string; pagepath?: string };
  /** A stable business key: WeChat does not send the same `client_msg_id` twice. */
  clientMsgId?: string;
}

export type MiniprogramState = 'developer' | 'trial' | 'formal';

export interface SentMessage {
  /** WeChat's message id, as text (it exceeds 2^53). */
  msgid: string;
}

export interface WechatMpClient {
  readonly appid: string;
  /** Official Account template message (`/cgi-bin/message/template/send`). */
  sendTemplate(openid: string, templateId: string, data: TemplateData, target?: TemplateTarget): Promise<SentMessage>;
  /** Mini-program subscribe message (`/cgi-bin/message/subscribe/send`): uses up one subscription the user granted. */
  sendSubscribe(openid: string, templateId: string, data: TemplateData, page?: string, state?: MiniprogramState): Promise<SentMessage>;
}

/** WeChat's length limits by key prefix (WxJava's WxMpTemplateMessage.resetValue, after the official rules). */
const VALUE_LIMITS: readonly (readonly [string, number])[] = [
  ['character_string', 32],
  ['phone_number', 17],
  ['car_number', 8],
  ['thing', 20],
  ['const', 20],
  ['letter', 32],
  ['number', 32],
];

/** Over-long values are refused whole (47003), so they are cut here, counting characters, not UTF-16 units. */
export function wechatFields(data: TemplateData): Record<string, { value: string }> {
  const out: Record<string, { value: string }> = {};
  for (const [key, value] of Object.entries(data)) {
    const limit = valueLimit(key);
    const chars = Array.from(value);
    out[key] = { value: limit !== undefined && chars.length > limit ? chars.slice(0, limit).join('') : value };
  }
  return out;
}

/** The limit WeChat applies to a key, or undefined when it has none we know of (used by the emulator's checks too). */
export function valueLimit(key: string): number | undefined {
  return VALUE_LIMITS.find(([prefix]) => key.startsWith(prefix))?.[1];
}
