import type { AppleEnvironment } from '../apple.client';
import type { DeliveryRecord, SentNotification } from './apple.emulator-types';

/**
 * App Store Server Notifications V2 as Apple sends them: a POST of `{"signedPayload"}`; 200–206 is
 * success, anything else (or no answer) is retried 1, 12, 24, 48 and 72 hours after the previous
 * attempt in Production (the delays are given, scaled down for tests); Sandbox sends once. Every
 * notification and its attempts stay in the history Get Notification History reads.
 */

/** Apple's retry delays after a failed send, in hours. */
export const APPLE_RETRY_DELAYS_MS: readonly number[] = [1, 12, 24, 48, 72].map((h) => h * 3_600_000);
const SEND_TIMEOUT_MS = 5_000;

export interface SendAttempt {
  readonly attemptDate: number;
  readonly sendAttemptResult: string;
}

export interface HistoryEntry {
  readonly sent: SentNotification;
  readonly environment: AppleEnvironment;
  /** The App Store account it concerns (null: TEST); history filters by it. */
  readonly customer: string | null;
  readonly attempts: SendAttempt[];
}

export class NotificationSender {
  readonly history: HistoryEntry[] = [];
  private readonly ledger: DeliveryRecord[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters: (() => void)[] = [];
  private inFlight = 0;
  private failures: { left: number; status: number | null } = { left: 0, status: null };
  private stopped = false;

  constructor(
    private readonly url: () => string | null,
    private readonly retryDelaysMs: readonly number[],
    private readonly now: () => number,
  ) {}

  record(sent: SentNotification, environment: AppleEnvironment, customer: string | null): HistoryEntry {
    const entry = { sent, environment, customer, attempts: [] };
    this.history.push(entry);
    return entry;
  }

  entry(notificationUUID: string): HistoryEntry {
    const e = this.history.find((h) => h.sent.notificationUUID === notificationUUID);
    if (!e) throw new Error(`emulator: no notification ${notificationUUID}`);
    return e;
  }

  /** First attempt now, then Apple's retries while it fails (Production only). */
  send(entry: HistoryEntry): void {
    this.track(this.firstAttempt(entry));
  }

  /** Each first attempt after the previous one's answer, so they arrive in this order. */
  sendInOrder(entries: readonly HistoryEntry[]): void {
    this.track(entries.reduce<Promise<void>>((prev, entry) => prev.then(() => this.firstAttempt(entry)), Promise.resolve()));
  }

  private async firstAttempt(entry: HistoryEntry): Promise<void> {
    const attempt = async (n: number): Promise<void> => {
      const ok = await this.attempt(entry);
      const delay = this.retryDelaysMs[n - 1];
      if (ok || entry.environment === 'Sandbox' || delay === undefined || this.stopped) return;
      this.later(delay, () => attempt(n + 1));
    };
    await attempt(1);
  }

  /** One more POST of a notification already sent (a duplicate, as Apple may send). */
  async resend(notificationUUID: string): Promise<DeliveryRecord> {
    const entry = this.entry(notificationUUID);
    const done = this.attempt(entry);
    this.track(done.then(() => undefined));
    await done;
    const last = this.ledger.filter((d) => d.notificationUUID === notificationUUID).at(-1);
    if (!last) throw new Error(`emulator: ${notificationUUID} was not sent`);
    return last;
  }

  failNext(n: number, status: number | null): void {
    this.failures = { left: n, status };
  }

  deliveries(): readonly DeliveryRecord[] {
    return [...this.ledger];
  }

  idle(): Promise<void> {
    if (this.inFlight === 0 && this.timers.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.settle();
  }

  private async attempt(entry: HistoryEntry): Promise<boolean> {
    const url = this.url();
    let status: number | null;
    let result: string;
    if (this.failures.left > 0) {
      this.failures.left -= 1;
      status = this.failures.status;
      result = status === null ? 'NO_RESPONSE' : 'UNSUCCESSFUL_HTTP_RESPONSE_CODE';
    } else if (url === null) {
      status = null;
      result = 'NO_RESPONSE';
    } else {
      ({ status, result } = await post(url, entry.sent.signedPayload));
    }
    const at = this.now();
    // Counted when the answer is in: a resend racing a retry still gets its own number.
    const n = this.ledger.filter((d) => d.notificationUUID === entry.sent.notificationUUID).length + 1;
    this.ledger.push({ notificationUUID: entry.sent.notificationUUID, attempt: n, httpStatus: status, at });
    entry.attempts.push({ attemptDate: at, sendAttemptResult: result });
    return result === 'SUCCESS';
  }

  private later(ms: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.track(fn());
    }, ms);
    this.timers.add(t);
  }

  private track(p: Promise<void>): void {
    this.inFlight += 1;
    void p.finally(() => {
      this.inFlight -= 1;
      this.settle();
    });
  }

  private settle(): void {
    if (this.inFlight > 0 || this.timers.size > 0) return;
    for (const w of this.waiters.splice(0)) w();
  }
}

async function post(url: string, signedPayload: string): Promise<{ status: number | null; result: string }> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ signedPayload }),
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    await res.arrayBuffer();
    return { status: res.status, result: res.status >= 200 && res.status <= 206 ? 'SUCCESS' : 'UNSUCCESSFUL_HTTP_RESPONSE_CODE' };
  } catch (err) {
    return { status: null, result: err instanceof Error && err.name === 'TimeoutError' ? 'TIMED_OUT' : 'NO_RESPONSE' };
  }
}
