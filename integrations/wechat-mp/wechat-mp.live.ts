import { type AxiosInstance, isAxiosError } from 'axios';
import type { RedisConnection } from '../../lib/redis';
import { PermanentError, RetryableError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import {
  wechatFields,
  type MiniprogramState,
  type SentMessage,
  type TemplateData,
  type TemplateTarget,
  type WechatMpClient,
} from './wechat-mp.client';
import { outcomeUnknown, toHubError, TOKEN_ERROR_CODES } from './wechat-mp.errors';
import { AccessTokenStore, type FetchedToken } from './wechat-mp.token';
import { textHttpClient } from '../text-http';

export interface LiveWechatMpOptions {
  /** `https://api.weixin.qq.com`, or the emulator's loopback address. */
  baseUrl: string;
  appid: string;
  secret: string;
  redis: RedisConnection;
  /** Redis key prefix of the token and its lock. */
  keyPrefix: string;
  /** Per HTTP request. */
  timeoutMs: number;
  /** How long a worker waits for another worker's token refresh; default 3 × timeoutMs. */
  tokenWaitMs?: number;
  now?: () => Date;
  log?: Logger;
}

/** WeChat answers HTTP 200 with `{errcode, errmsg}` (errcode absent or 0 on success). */
interface WechatAnswer {
  errcode: number;
  errmsg: string;
  body: Record<string, unknown>;
}

/** Errors of a request that never left this host: sending again cannot deliver twice. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function parseAnswer(data: unknown, what: string): WechatAnswer {
  if (!data || typeof data !== 'object') throw new RetryableError(`WeChat ${what}: answer is not JSON`);
  const body = data as Record<string, unknown>;
  const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
  return { errcode, errmsg: typeof body.errmsg === 'string' ? body.errmsg : '', body };
}

function msgidOf(body: Record<string, unknown>): string {
  const msgid = body.msgid;
  return typeof msgid === 'number' || typeof msgid === 'string' ? String(msgid) : '';
}

export class LiveWechatMpClient implements WechatMpClient {
  readonly appid: string;
  readonly tokens: AccessTokenStore;
  private readonly http: AxiosInstance;
  private readonly now: () => Date;

  constructor(private readonly options: LiveWechatMpOptions) {
    this.appid = options.appid;
    this.now = options.now ?? (() => new Date());
    this.http = textHttpClient(options);
    this.tokens = new AccessTokenStore({
      redis: options.redis,
      keyPrefix: options.keyPrefix,
      appid: options.appid,
      fetch: () => this.fetchToken(),
      lockTtlMs: options.timeoutMs * 2 + 1_000,
      waitMs: options.tokenWaitMs ?? options.timeoutMs * 3,
      now: () => this.now().getTime(),
    });
  }

  async sendTemplate(openid: string, templateId: string, data: TemplateData, target: TemplateTarget = {}): Promise<SentMessage> {
    const body: Record<string, unknown> = { touser: openid, template_id: templateId, data: wechatFields(data) };
    if (target.url) body.url = target.url;
    if (target.miniprogram) body.miniprogram = target.miniprogram;
    if (target.clientMsgId) body.client_msg_id = target.clientMsgId;
    return this.sendMessage('/cgi-bin/message/template/send', body);
  }

  async sendSubscribe(openid: string, templateId: string, data: TemplateData, page?: string, state: MiniprogramState = 'formal'): Promise<SentMessage> {
    const body: Record<string, unknown> = { touser: openid, template_id: templateId, data: wechatFields(data), miniprogram_state: state, lang: 'zh_CN' };
    if (page) body.page = page;
    return this.sendMessage('/cgi-bin/message/subscribe/send', body);
  }

  /** A send with the shared token; a token error invalidates that token (if still cached) and retries once. */
  private async sendMessage(path: string, body: Record<string, unknown>): Promise<SentMessage> {
    const token = await this.tokens.get();
    let answer = await this.request(path, token, body);
    if (TOKEN_ERROR_CODES.has(answer.errcode)) {
      const removed = await this.tokens.invalidate(token);
      this.options.log?.info({ appid: this.appid, errcode: answer.errcode, removed }, 'WeChat rejected the access token; retrying once');
      answer = await this.request(path, await this.tokens.get(), body);
    }
    if (answer.errcode !== 0) throw toHubError(answer.errcode, answer.errmsg, this.now());
    return { msgid: msgidOf(answer.body) };
  }

  private async fetchToken(): Promise<FetchedToken> {
    const answer = await this.request('/cgi-bin/stable_token', undefined, {
      grant_type: 'client_credential',
      appid: this.options.appid,
      secret: this.options.secret,
      force_refresh: false,
    });
    if (answer.errcode !== 0) throw toHubError(answer.errcode, answer.errmsg, this.now());
    const { access_token: accessToken, expires_in: expiresIn } = answer.body;
    if (typeof accessToken !== 'string' || !accessToken || typeof expiresIn !== 'number' || expiresIn <= 0) {
      throw new PermanentError('WECHAT_BAD_RESPONSE', 'WeChat stable_token: no access_token/expires_in in the answer');
    }
    return { accessToken, expiresInSeconds: expiresIn };
  }

  /** The one HTTP seam: a JSON POST, with the token in the query when there is one. */
  private async request(path: string, token: string | undefined, body: Record<string, unknown>): Promise<WechatAnswer> {
    const url = token === undefined ? path : `${path}?access_token=${encodeURIComponent(token)}`;
    let status: number;
    let text: string;
    try {
      const res = await this.http.post<string>(url, JSON.stringify(body), { headers: { 'Content-Type': 'application/json' } });
      status = res.status;
      text = typeof res.data === 'string' ? res.data : '';
    } catch (err) {
      if (!isAxiosError(err)) throw err;
      const code = err.code ?? 'network error';
      // Not the AxiosError as cause: its config holds the URL with the access token.
      if (token === undefined || NOT_SENT_CODES.has(code)) throw new RetryableError(`WeChat POST ${path}: ${code}`, { cause: new Error(code) });
      throw outcomeUnknown(`WeChat POST ${path}`, code);
    }
    if (status < 200 || status >= 300) throw new RetryableError(`WeChat POST ${path}: HTTP ${status}`);
    let parsed: unknown;
    try {
      // msgid as a string before parsing, so the 64-bit id survives.
      parsed = JSON.parse(text.replace(/"msgid"\s*:\s*(\d+)/, '"msgid":"$1"'));
    } catch {
      throw new RetryableError(`WeChat POST ${path}: answer is not JSON`);
    }
    return parseAnswer(parsed, path);
  }
}
