import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { AUTH_SCHEME, encryptResource, signatureHeaders } from './wechat-pay.emulator-auth';
import { signingKey, type EmulatedMerchant } from './wechat-pay.emulator-state';

/**
 * WeChat's side of callbacks: an encrypted, signed notification POSTed to the notify_url, counted as
 * delivered only on 200/204 within the timeout, otherwise sent again on WeChat's schedule with the
 * same notification id.
 */

/** 15s,15s,30s,3m,10m,20m,30m,30m,30m,60m,3h,3h,3h,6h,6h (WeChat's documented schedule). */
export const WECHAT_RETRY_DELAYS_MS: readonly number[] = [
  15_000, 15_000, 30_000, 180_000, 600_000, 1_200_000, 1_800_000, 1_800_000, 1_800_000, 3_600_000, 10_800_000, 10_800_000, 10_800_000,
  21_600_000, 21_600_000,
];

export interface Delivery {
  id: string;
  out_trade_no: string;
  event_type: string;
  attempt: number;
  /** HTTP status, 0 when nothing came back in time. */
  status: number;
}

export interface CallbackEvent {
  merchant: EmulatedMerchant;
  url: string;
  outTradeNo: string;
  eventType: string;
  summary: string;
  originalType: 'transaction' | 'refund';
  /** The decrypted resource. */
  resource: object;
  /** create_time, RFC 3339 +08:00. */
  createTime: string;
}

export class CallbackDispatcher {
  readonly deliveries: Delivery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private stopped = false;

  constructor(
    private readonly retryDelaysMs: readonly number[],
    private readonly timeoutMs: number,
  ) {}

  /** Sends a new notification now (its first attempt); retries follow by themselves. */
  send(event: CallbackEvent): Promise<void> {
    return this.attempt(event, randomUUID(), 1);
  }

  private async attempt(event: CallbackEvent, id: string, attempt: number): Promise<void> {
    if (this.stopped) return;
    this.inFlight += 1;
    try {
      const status = await this.post(event, id);
      this.deliveries.push({ id, out_trade_no: event.outTradeNo, event_type: event.eventType, attempt, status });
      const delivered = status === 200 || status === 204;
      const delay = this.retryDelaysMs[attempt - 1];
      if (!delivered && delay !== undefined && !this.stopped) {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          void this.attempt(event, id, attempt + 1);
        }, delay);
        this.timers.add(timer);
      }
    } finally {
      this.inFlight -= 1;
      this.wake();
    }
  }

  /** One POST, encrypted and signed afresh (new nonce, new timestamp) as WeChat does on each attempt. */
  private post(event: CallbackEvent, id: string): Promise<number> {
    const resource = encryptResource(event.merchant.apiV3Key, JSON.stringify(event.resource), event.originalType);
    const body = JSON.stringify({
      id,
      create_time: event.createTime,
      resource_type: 'encrypt-resource',
      event_type: event.eventType,
      summary: event.summary,
      resource: { original_type: event.originalType, ...resource },
    });
    const key = signingKey(event.merchant);
    const headers = {
      ...signatureHeaders(key.serial, key.privateKey, body, Math.floor(Date.now() / 1000)),
      'Wechatpay-Signature-Type': AUTH_SCHEME,
      'Request-ID': randomUUID().replace(/-/g, '').toUpperCase(),
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(body)),
      'User-Agent': 'Mozilla/4.0',
    };
    return new Promise<number>((resolve) => {
      let settled = false;
      const finish = (status: number): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(status);
      };
      const req = request(event.url, { method: 'POST', headers }, (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode ?? 0));
        res.on('error', () => finish(0));
      });
      const timer = setTimeout(() => {
        finish(0);
        req.destroy();
      }, this.timeoutMs);
      req.on('error', () => finish(0));
      req.end(body);
    });
  }

  private wake(): void {
    if (this.inFlight > 0 || this.timers.size > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves when nothing is scheduled or in flight. */
  settled(): Promise<void> {
    if (this.inFlight === 0 && this.timers.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.wake();
  }
}
