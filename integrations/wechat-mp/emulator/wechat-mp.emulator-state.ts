import { randomBytes } from 'node:crypto';
import { valueLimit } from '../wechat-mp.client';

/** What the WeChat message emulator remembers: apps, their stable tokens, templates, grants and the ledger. */

export type MpRoute = 'stable_token' | 'template' | 'subscribe' | 'any';

export type MpFault =
  | { kind: 'errcode'; errcode: number; errmsg?: string } // HTTP 200 with WeChat's `{errcode, errmsg}`
  | { kind: 'http'; status: number } // a gateway error page
  | { kind: 'timeout'; ms: number } // the message is processed, the answer comes only after ms
  | { kind: 'hold' }; // the message is processed, the answer waits for releaseHeld()

export interface LedgerEntry {
  msgid: string;
  kind: 'template' | 'subscribe';
  appid: string;
  openid: string;
  templateId: string;
  data: Record<string, string>;
  url?: string;
  miniprogram?: { appid: string; pagepath?: string };
  page?: string;
  state?: string;
  clientMsgId?: string;
  at: Date;
}

export interface IssuedToken {
  token: string;
  expiresAt: number;
  revoked: boolean;
}

export interface EmulatedTemplate {
  /** Keys the template declares; undefined accepts any key. */
  keys?: readonly string[];
  /** Messages a day; undefined is unlimited. */
  dailyQuota?: number;
  sent: number;
}

export interface EmulatedApp {
  appid: string;
  secret: string;
  tokens: IssuedToken[];
  stableTokenCalls: number;
  templates: Map<string, EmulatedTemplate>;
  /** `${openid} ${templateId}` → one-time subscriptions left. */
  grants: Map<string, number>;
  /** `${openid} ${templateId}`: the user turned this template off (43101 for template messages). */
  refused: Set<string>;
  unfollowed: Set<string>;
  clientMsgIds: Map<string, string>;
}

/** A WeChat answer with a non-zero errcode. */
export class MpVendorError extends Error {
  constructor(
    readonly errcode: number,
    readonly errmsg: string,
  ) {
    super(`${errcode} ${errmsg}`);
  }
}

/** WeChat's openids are 28 URL-safe characters. */
const OPENID = /^[A-Za-z0-9_-]{28}$/;
/** WeChat says the remaining life of a token within its 5-minute overlap. */
export const OVERLAP_MS = 5 * 60_000;

export function newApp(appid: string, secret: string): EmulatedApp {
  return { appid, secret, tokens: [], stableTokenCalls: 0, templates: new Map(), grants: new Map(), refused: new Set(), unfollowed: new Set(), clientMsgIds: new Map() };
}

export function newToken(ttlMs: number, nowMs: number): IssuedToken {
  // Real tokens are long (≥ 512 characters may be needed); ours only need to be unguessable.
  return { token: `EMU_${randomBytes(48).toString('base64url')}`, expiresAt: nowMs + ttlMs, revoked: false };
}

/** The newest token, reissued when it is within its last 5 minutes (the old one stays valid): stable_token's normal mode. */
export function stableToken(app: EmulatedApp, ttlMs: number, nowMs: number, force: boolean): IssuedToken {
  const current = app.tokens.at(-1);
  if (!force && current && !current.revoked && current.expiresAt - nowMs > OVERLAP_MS) return current;
  if (force) for (const t of app.tokens) t.revoked = true;
  const issued = newToken(ttlMs, nowMs);
  app.tokens.push(issued);
  return issued;
}

/** 41001 missing, 40014 unknown, 40001 revoked, 42001 expired. */
export function checkToken(apps: Iterable<EmulatedApp>, token: string | null, nowMs: number): EmulatedApp {
  if (!token) throw new MpVendorError(41001, 'access_token missing');
  for (const app of apps) {
    const found = app.tokens.find((t) => t.token === token);
    if (!found) continue;
    if (found.revoked) throw new MpVendorError(40001, 'invalid credential, access_token is invalid or not latest');
    if (found.expiresAt <= nowMs) throw new MpVendorError(42001, 'access_token expired');
    return app;
  }
  throw new MpVendorError(40014, 'invalid access_token');
}

/** Template id known, openid well-formed, keys declared, values within WeChat's limits. */
export function checkMessage(app: EmulatedApp, openid: unknown, templateId: unknown, data: unknown): { openid: string; templateId: string; template: EmulatedTemplate; data: Record<string, string> } {
  if (typeof openid !== 'string' || !OPENID.test(openid)) throw new MpVendorError(40003, 'invalid openid');
  const template = typeof templateId === 'string' ? app.templates.get(templateId) : undefined;
  if (!template || typeof templateId !== 'string') throw new MpVendorError(40037, 'invalid template_id');
  if (!data || typeof data !== 'object') throw new MpVendorError(47001, 'data format error');
  const values: Record<string, string> = {};
  for (const [key, field] of Object.entries(data as Record<string, unknown>)) {
    const value = field && typeof field === 'object' ? (field as { value?: unknown }).value : undefined;
    if (typeof value !== 'string') throw new MpVendorError(47001, `data format error: ${key}`);
    if (template.keys && !template.keys.includes(key)) throw new MpVendorError(47003, `argument invalid! data.${key} not in template`);
    const limit = valueLimit(key);
    if (limit !== undefined && Array.from(value).length > limit) throw new MpVendorError(47003, `argument invalid! data.${key}.value too long`);
    values[key] = value;
  }
  return { openid, templateId, template, data: values };
}

/** 45009 once a template has sent its daily quota. */
export function takeQuota(template: EmulatedTemplate): void {
  if (template.dailyQuota !== undefined && template.sent >= template.dailyQuota) throw new MpVendorError(45009, 'reach max api daily quota limit');
}

export const grantKey = (openid: string, templateId: string): string => `${openid} ${templateId}`;
