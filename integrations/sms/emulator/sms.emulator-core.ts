import { request } from 'node:http';
import { formatBeijing } from '../../../lib/time';
import { DROP_CONNECTION, EmulatorServer, jsonAnswer, type EmulatorAnswer, type EmulatorRequest } from '../../emulator-server';

/** What both SMS emulators share: the HTTP server, fault queue, ledger, per-number counters, receipt pushes. */

export type SmsFault =
  /** A vendor code: Aliyun answers it for the request; Tencent for the request, or with `phone` only for that number. */
  | { kind: 'code'; code: string; message?: string; phone?: string }
  /** A gateway status (5xx/429/503) with a JSON error body; `retryAfterSec` adds Aliyun's `x-acs-retry-after`. */
  | { kind: 'http'; status: number; code?: string; retryAfterSec?: number }
  /** Answer only after `ms` (the client times out first). */
  | { kind: 'timeout'; ms: number }
  /** Process the request (the message is sent), then destroy the connection instead of answering. */
  | { kind: 'drop' }
  /** A 200 whose body is not JSON. */
  | { kind: 'malformed' };

export interface EmulatedSms {
  /** Aliyun BizId (shared by a request) or Tencent SerialNo (one per number). */
  messageId: string;
  phone: string;
  sign: string;
  template: string;
  params: readonly string[];
  outId?: string;
  sentAt: Date;
  status: 'waiting' | 'delivered' | 'failed';
  errCode?: string;
}

export interface ReceiptDelivery {
  messageId: string;
  attempt: number;
  /** 0 = no answer; `acked` says whether the body was the vendor's success reply. */
  status: number;
  acked: boolean;
}

export interface SmsEmulatorOptions {
  now?: () => Date;
  /** Where receipts are pushed (`POST <receiptUrl>`); none when unset. */
  receiptUrl?: string;
  /** Delays between receipt pushes (a push not acknowledged is retried). Default: Aliyun's 1,5,10,30,60×5 min. */
  receiptRetryDelaysMs?: readonly number[];
  /** Per-number limits; default 1/min, 5/h, 10/24 h (Aliyun's verification-code defaults). */
  limits?: { perMinute: number; perHour: number; perDay: number };
}

export const ALIYUN_RECEIPT_DELAYS_MS: readonly number[] = [1, 5, 10, 30, 60, 60, 60, 60, 60].map((m) => m * 60_000);

/** Both vendors spell their JSON content type without the space. */
export function smsAnswer(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): EmulatorAnswer {
  return jsonAnswer(status, body, { 'content-type': 'application/json;charset=utf-8', ...headers });
}

const MALFORMED_BODY = '<html>502 Bad Gateway</html>';

export abstract class SmsEmulatorCore {
  readonly messages: EmulatedSms[] = [];
  readonly receiptDeliveries: ReceiptDelivery[] = [];
  protected readonly now: () => Date;
  private readonly faults: { fault: SmsFault; times: number }[] = [];
  private readonly sendTimes = new Map<string, number[]>();
  private readonly outcomes = new Map<string, { success: boolean; errCode: string; errMessage: string }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  private server?: EmulatorServer;
  baseUrl = '';

  protected constructor(protected readonly options: SmsEmulatorOptions) {
    this.now = options.now ?? (() => new Date());
  }

  protected async listen(): Promise<void> {
    this.server = await EmulatorServer.start((request) => this.serve(request));
    this.baseUrl = this.server.baseUrl;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await server.stop();
  }

  setReceiptUrl(url: string | undefined): void {
    this.options.receiptUrl = url;
  }

  /** The next `times` requests (default 1) fail as `fault`. */
  inject(fault: SmsFault, o: { times?: number } = {}): void {
    this.faults.push({ fault, times: o.times ?? 1 });
  }

  /** The receipt a number's next messages get (default delivered, `DELIVRD`). */
  setReceiptOutcome(phone: string, outcome: { success: boolean; errCode: string; errMessage?: string }): void {
    this.outcomes.set(phone, { errMessage: outcome.success ? '用户接收成功' : '失败', ...outcome });
  }

  /** Resolves when no receipt push is scheduled or in flight. */
  receiptsSettled(): Promise<void> {
    if (this.timers.size === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  protected abstract handle(request: EmulatorRequest, fault: SmsFault | undefined): EmulatorAnswer;
  protected abstract receiptBody(batch: readonly EmulatedSms[]): unknown;
  protected abstract isAck(body: unknown): boolean;

  /** The fault for this request, if one is queued. */
  private takeFault(): SmsFault | undefined {
    const head = this.faults[0];
    if (!head) return undefined;
    head.times -= 1;
    if (head.times <= 0) this.faults.shift();
    return head.fault;
  }

  private async serve(request: EmulatorRequest): Promise<EmulatorAnswer | typeof DROP_CONNECTION> {
    const fault = this.takeFault();
    if (fault?.kind === 'timeout') await this.sleep(fault.ms);
    // Handled even when the answer is then lost: the vendor did the work, only the client never hears of it.
    const answer = this.handle(request, fault);
    if (fault?.kind === 'drop') return DROP_CONNECTION;
    return fault?.kind === 'malformed' ? { ...answer, body: MALFORMED_BODY } : answer;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  /** Which per-number window a new message to `phone` would break, or null (and then it is counted). */
  protected countSend(phone: string): 'minute' | 'hour' | 'day' | null {
    const limits = this.options.limits ?? { perMinute: 1, perHour: 5, perDay: 10 };
    const at = this.now().getTime();
    const times = (this.sendTimes.get(phone) ?? []).filter((t) => t > at - 86_400_000);
    const within = (ms: number): number => times.filter((t) => t > at - ms).length;
    if (within(60_000) >= limits.perMinute) return 'minute';
    if (within(3_600_000) >= limits.perHour) return 'hour';
    if (times.length >= limits.perDay) return 'day';
    times.push(at);
    this.sendTimes.set(phone, times);
    return null;
  }

  /** Records sent messages and schedules their receipts as one pushed batch. */
  protected record(batch: EmulatedSms[]): void {
    this.messages.push(...batch);
    for (const m of batch) {
      const outcome = this.outcomes.get(m.phone);
      m.status = outcome && !outcome.success ? 'failed' : 'delivered';
      m.errCode = outcome?.errCode ?? 'DELIVRD';
    }
    if (this.options.receiptUrl) this.schedulePush(batch, 1, 0);
  }

  protected receiptFields(m: EmulatedSms): { reportTime: string; sendTime: string; errMessage: string } {
    const outcome = this.outcomes.get(m.phone);
    return { reportTime: formatBeijing(this.now()), sendTime: formatBeijing(m.sentAt), errMessage: outcome?.errMessage ?? '用户接收成功' };
  }

  private schedulePush(batch: readonly EmulatedSms[], attempt: number, delayMs: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.push(batch, attempt);
    }, delayMs);
    this.timers.add(t);
  }

  private async push(batch: readonly EmulatedSms[], attempt: number): Promise<void> {
    const url = this.options.receiptUrl;
    if (!url) return this.settle();
    this.inFlight += 1;
    const { status, body } = await postJson(url, this.receiptBody(batch));
    this.inFlight -= 1;
    const acked = status === 200 && this.isAck(body);
    for (const m of batch) this.receiptDeliveries.push({ messageId: m.messageId, attempt, status, acked });
    const delays = this.options.receiptRetryDelaysMs ?? ALIYUN_RECEIPT_DELAYS_MS;
    // Ten pushes in all (the first and nine retries), then the vendor gives up.
    const next = delays[attempt - 1];
    if (!acked && next !== undefined) this.schedulePush(batch, attempt + 1, next);
    this.settle();
  }

  private settle(): void {
    if (this.timers.size > 0 || this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function postJson(url: string, payload: unknown): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', headers: { 'Content-Type': 'application/json; charset=utf-8' }, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let body: unknown = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          // not JSON: not an acknowledgement
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on('error', () => resolve({ status: 0, body: null }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: null }));
    req.end(JSON.stringify(payload));
  });
}

/** Mainland numbers in any of the accepted spellings, reduced to 11 digits; null when not a mobile number. */
export function mainlandDigits(phone: string): string | null {
  const m = /^(?:\+86|0086|86)?(1[3-9]\d{9})$/.exec(phone.trim());
  return m?.[1] ?? null;
}
