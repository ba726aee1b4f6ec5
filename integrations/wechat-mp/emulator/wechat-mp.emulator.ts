import { DROP_CONNECTION, EmulatorServer, type EmulatorAnswer, type EmulatorRequest } from '../../emulator-server';
import type { WechatMpAccount } from '../wechat-mp.client';
import {
  checkMessage,
  checkToken,
  grantKey,
  MpVendorError,
  newApp,
  stableToken,
  takeQuota,
  type EmulatedApp,
  type LedgerEntry,
  type MpFault,
  type MpRoute,
} from './wechat-mp.emulator-state';

export type { LedgerEntry, MpFault, MpRoute } from './wechat-mp.emulator-state';

/**
 * A local api.weixin.qq.com for messages: `/cgi-bin/stable_token`, `/cgi-bin/message/template/send` and
 * `/cgi-bin/message/subscribe/send`, with tokens that expire or are revoked on demand, per-template
 * daily quotas, one-time subscription grants, a ledger of what was sent, and any errcode on demand.
 */

export interface MpEmulatorOptions {
  now?: () => Date;
  /** `expires_in` of a new token; WeChat's is 7200. */
  tokenTtlSeconds?: number;
}

const ROUTES: Readonly<Record<string, Exclude<MpRoute, 'any'>>> = {
  '/cgi-bin/stable_token': 'stable_token',
  '/cgi-bin/message/template/send': 'template',
  '/cgi-bin/message/subscribe/send': 'subscribe',
};
const STATES = new Set(['developer', 'trial', 'formal']);

export class WechatMpEmulator {
  private server?: EmulatorServer;
  /** Set by stop(): answers still held or late are dropped, never sent. */
  private stopped = false;
  private readonly apps = new Map<string, EmulatedApp>();
  private readonly faults: { fault: MpFault; route: MpRoute; times: number }[] = [];
  private readonly sent: LedgerEntry[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly held: (() => void)[] = [];
  private readonly heldWaiters: { count: number; resolve: () => void }[] = [];
  private readonly requests = new Map<MpRoute, number>();
  private readonly now: () => Date;
  private readonly ttlMs: number;
  private nextMsgid = 2_453_000_000_000_000_000n;

  private constructor(options: MpEmulatorOptions) {
    this.now = options.now ?? (() => new Date());
    this.ttlMs = (options.tokenTtlSeconds ?? 7200) * 1000;
  }

  static async start(options: MpEmulatorOptions = {}): Promise<WechatMpEmulator> {
    const emulator = new WechatMpEmulator(options);
    emulator.server = await EmulatorServer.start((request) => emulator.handle(request));
    return emulator;
  }

  get baseUrl(): string {
    return this.server?.baseUrl ?? '';
  }

  addApp(account: WechatMpAccount): WechatMpAccount {
    if (this.apps.has(account.appid)) throw new Error(`emulator: app ${account.appid} exists`);
    this.apps.set(account.appid, newApp(account.appid, account.secret));
    return { ...account };
  }

  addTemplate(appid: string, templateId: string, o: { keys?: readonly string[]; dailyQuota?: number } = {}): void {
    this.app(appid).templates.set(templateId, { keys: o.keys, dailyQuota: o.dailyQuota, sent: 0 });
  }

  /** Messages of this template sent so far today, and its quota (undefined: none). */
  template(appid: string, templateId: string): { sent: number; dailyQuota?: number } {
    const t = this.app(appid).templates.get(templateId);
    if (!t) throw new Error(`emulator: no template ${templateId}`);
    return { sent: t.sent, dailyQuota: t.dailyQuota };
  }

  setQuota(appid: string, templateId: string, dailyQuota: number | undefined): void {
    const t = this.app(appid).templates.get(templateId);
    if (!t) throw new Error(`emulator: no template ${templateId}`);
    t.dailyQuota = dailyQuota;
  }

  /** The user accepted `count` one-time subscriptions of a template in the mini-program. */
  grantSubscription(appid: string, openid: string, templateId: string, count = 1): void {
    const app = this.app(appid);
    const key = grantKey(openid, templateId);
    app.grants.set(key, (app.grants.get(key) ?? 0) + count);
  }

  subscriptionsLeft(appid: string, openid: string, templateId: string): number {
    return this.app(appid).grants.get(grantKey(openid, templateId)) ?? 0;
  }

  /** The user turned a template off in the Official Account: its template messages answer 43101. */
  refuseTemplate(appid: string, openid: string, templateId: string): void {
    this.app(appid).refused.add(grantKey(openid, templateId));
  }

  /** The user no longer follows the Official Account: template messages answer 43004. */
  unfollow(appid: string, openid: string): void {
    this.app(appid).unfollowed.add(openid);
  }

  /** Tokens issued by stable_token (each new one counts once). */
  tokensIssued(appid: string): number {
    return this.app(appid).tokens.length;
  }

  /** Calls to stable_token, including those that returned the current token again. */
  stableTokenCalls(appid: string): number {
    return this.app(appid).stableTokenCalls;
  }

  currentToken(appid: string): string | undefined {
    return this.app(appid).tokens.at(-1)?.token;
  }

  /** The token (default: the current one) expires now: calls with it answer 42001, stable_token issues another. */
  expireToken(appid: string, token?: string): void {
    const t = this.token(appid, token);
    t.expiresAt = this.now().getTime();
  }

  /** The token (default: the current one) is revoked, as after a leak and force_refresh: calls answer 40001. */
  invalidateToken(appid: string, token?: string): void {
    this.token(appid, token).revoked = true;
  }

  /** Every message accepted, in order. */
  get ledger(): readonly LedgerEntry[] {
    return this.sent;
  }

  /** The next `times` (default 1) requests to `route` (default any) fail as `fault`. */
  inject(fault: MpFault, o: { route?: MpRoute; times?: number } = {}): void {
    this.faults.push({ fault, route: o.route ?? 'any', times: o.times ?? 1 });
  }

  /** Requests received on a route (every one, failed or not); `any` counts them all. */
  calls(route: MpRoute): number {
    return this.requests.get(route) ?? 0;
  }

  /** Resolves once `count` answers are held by `hold` faults. */
  waitForHeld(count = 1): Promise<void> {
    if (this.held.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.heldWaiters.push({ count, resolve }));
  }

  /** Sends every held answer. */
  releaseHeld(): void {
    for (const release of this.held.splice(0)) release();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.releaseHeld();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.server?.stop();
  }

  private app(appid: string): EmulatedApp {
    const app = this.apps.get(appid);
    if (!app) throw new Error(`emulator: no app ${appid}`);
    return app;
  }

  private token(appid: string, token: string | undefined): { expiresAt: number; revoked: boolean } {
    const app = this.app(appid);
    const found = token === undefined ? app.tokens.at(-1) : app.tokens.find((t) => t.token === token);
    if (!found) throw new Error(`emulator: no such token for ${appid}`);
    return found;
  }

  private takeFault(route: Exclude<MpRoute, 'any'>): MpFault | undefined {
    const i = this.faults.findIndex((f) => f.route === route || f.route === 'any');
    if (i < 0) return undefined;
    const entry = this.faults[i] as { fault: MpFault; times: number };
    entry.times -= 1;
    if (entry.times <= 0) this.faults.splice(i, 1);
    return entry.fault;
  }

  private async handle(request: EmulatorRequest): Promise<EmulatorAnswer | typeof DROP_CONNECTION> {
    const { url } = request;
    const route = ROUTES[url.pathname];
    if (!route) return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'not found' };
    for (const counted of [route, 'any'] as const) this.requests.set(counted, (this.requests.get(counted) ?? 0) + 1);
    const fault = this.takeFault(route);
    if (fault?.kind === 'http') return { status: fault.status, headers: { 'Content-Type': 'text/html' }, body: `<html><body><h1>${fault.status}</h1></body></html>` };
    let answer: object;
    if (fault?.kind === 'errcode') {
      answer = { errcode: fault.errcode, errmsg: fault.errmsg ?? `injected ${fault.errcode}` };
    } else {
      try {
        answer = this.answer(route, request.method, request.body.toString('utf8'), url);
      } catch (err) {
        if (!(err instanceof MpVendorError)) throw err;
        answer = { errcode: err.errcode, errmsg: err.errmsg };
      }
    }
    // timeout and hold: the work is done, only the answer is late (the client cannot know what happened).
    // A client that gave up meanwhile gets nothing: the server writes no answer to a closed connection.
    if (fault?.kind === 'timeout') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          resolve();
        }, fault.ms);
        this.timers.add(timer);
      });
      if (this.stopped) return DROP_CONNECTION;
    }
    if (fault?.kind === 'hold') {
      await new Promise<void>((resolve) => {
        this.held.push(resolve);
        for (const w of this.heldWaiters.filter((x) => this.held.length >= x.count)) {
          this.heldWaiters.splice(this.heldWaiters.indexOf(w), 1);
          w.resolve();
        }
      });
      if (this.stopped) return DROP_CONNECTION;
    }
    // msgid is a 64-bit number on the wire, written as digits without going through a JS number.
    const text = JSON.stringify(answer).replace(/"msgid":"(\d+)"/, '"msgid":$1');
    return { status: 200, headers: { 'Content-Type': 'application/json; encoding=utf-8' }, body: text };
  }

  private answer(route: Exclude<MpRoute, 'any'>, method: string, text: string, url: URL): object {
    if (method !== 'POST') throw new MpVendorError(43002, 'require POST method');
    if (!text) throw new MpVendorError(44002, 'empty post data');
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new MpVendorError(47001, 'data format error');
    }
    if (route === 'stable_token') return this.stableToken(body);
    const app = checkToken(this.apps.values(), url.searchParams.get('access_token'), this.now().getTime());
    return route === 'template' ? this.templateSend(app, body) : this.subscribeSend(app, body);
  }

  private stableToken(body: Record<string, unknown>): object {
    if (body.grant_type !== 'client_credential') throw new MpVendorError(40002, 'invalid grant_type');
    const app = typeof body.appid === 'string' ? this.apps.get(body.appid) : undefined;
    if (!app) throw new MpVendorError(40013, 'invalid appid');
    app.stableTokenCalls += 1;
    if (body.secret !== app.secret) throw new MpVendorError(40125, 'invalid appsecret');
    const nowMs = this.now().getTime();
    const t = stableToken(app, this.ttlMs, nowMs, body.force_refresh === true);
    return { access_token: t.token, expires_in: Math.floor((t.expiresAt - nowMs) / 1000) };
  }

  private templateSend(app: EmulatedApp, body: Record<string, unknown>): object {
    const m = checkMessage(app, body.touser, body.template_id, body.data);
    const clientMsgId = typeof body.client_msg_id === 'string' ? body.client_msg_id : undefined;
    const replayed = clientMsgId ? app.clientMsgIds.get(clientMsgId) : undefined;
    // The same client_msg_id again: WeChat's anti-reentry, the first message's id and no second message.
    if (replayed) return { errcode: 0, errmsg: 'ok', msgid: replayed };
    if (app.unfollowed.has(m.openid)) throw new MpVendorError(43004, 'require subscribe');
    if (app.refused.has(grantKey(m.openid, m.templateId))) throw new MpVendorError(43101, 'user refuse to accept the msg');
    takeQuota(m.template);
    const miniprogram = body.miniprogram as LedgerEntry['miniprogram'];
    const entry = this.record(app, 'template', m, {
      url: typeof body.url === 'string' ? body.url : undefined,
      miniprogram: miniprogram && typeof miniprogram.appid === 'string' ? miniprogram : undefined,
      clientMsgId,
    });
    if (clientMsgId) app.clientMsgIds.set(clientMsgId, entry.msgid);
    return { errcode: 0, errmsg: 'ok', msgid: entry.msgid };
  }

  private subscribeSend(app: EmulatedApp, body: Record<string, unknown>): object {
    const m = checkMessage(app, body.touser, body.template_id, body.data);
    const state = body.miniprogram_state ?? 'formal';
    if (typeof state !== 'string' || !STATES.has(state)) throw new MpVendorError(47003, 'argument invalid! miniprogram_state');
    if (body.page !== undefined && (typeof body.page !== 'string' || body.page.startsWith('/'))) throw new MpVendorError(41030, 'invalid page');
    const key = grantKey(m.openid, m.templateId);
    const left = app.grants.get(key) ?? 0;
    if (left <= 0) throw new MpVendorError(43101, 'user refuse to accept the msg');
    takeQuota(m.template);
    app.grants.set(key, left - 1);
    const entry = this.record(app, 'subscribe', m, { page: typeof body.page === 'string' ? body.page : undefined, state });
    return { errcode: 0, errmsg: 'ok', msgid: entry.msgid };
  }

  private record(
    app: EmulatedApp,
    kind: LedgerEntry['kind'],
    m: ReturnType<typeof checkMessage>,
    extra: Pick<LedgerEntry, 'url' | 'miniprogram' | 'page' | 'state' | 'clientMsgId'>,
  ): LedgerEntry {
    m.template.sent += 1;
    this.nextMsgid += 1n;
    const entry: LedgerEntry = { msgid: this.nextMsgid.toString(), kind, appid: app.appid, openid: m.openid, templateId: m.templateId, data: m.data, ...extra, at: this.now() };
    this.sent.push(entry);
    return entry;
  }
}
