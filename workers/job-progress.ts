/**
 * What `ctx.progress(done, total?)` stores as a BullMQ job's progress, and how often.
 *
 * Bull Board 9.10 draws its progress ring from a number, a numeric string or an object's numeric
 * `progress` field, as a percentage (`${value}%`, the ring full from 100): a bare count of 12,345
 * would be drawn as "12345%". Its Progress tab shows strings and objects as JSON, and a number as
 * "No progress data available". So the value is always an object: `{ progress, done, total }` with
 * a whole percentage when the total is known (ring and detail), `{ done }` when it is not (the tab
 * shows the count; no ring, as nothing says how far along the job is). The jobs API hands it on.
 */

export type ProgressValue = { readonly progress: number; readonly done: number; readonly total: number } | { readonly done: number };

/** The most often one job's progress is written to Redis. */
export const PROGRESS_INTERVAL_MS = 1_000;

/** Whole percent, rounded down, so 100 means done: reached only when `done >= total` (and for an empty total). */
export function progressValue(done: number, total?: number): ProgressValue {
  if (total === undefined || !Number.isFinite(total) || total < 0) return { done };
  if (done >= total) return { progress: 100, done, total };
  const percent = Math.floor((done * 100) / total);
  return { progress: Number.isFinite(percent) ? Math.min(99, Math.max(0, percent)) : 0, done, total };
}

export interface ProgressReporter {
  /** Writes at once when nothing was written within the interval; otherwise keeps the value for the interval's end. */
  report(done: number, total?: number): Promise<void>;
  /** Writes the value held back, if any, and stops: no timer is left, later reports are dropped. Never rejects. */
  flush(): Promise<void>;
}

export interface ProgressThrottleOptions {
  intervalMs?: number;
  /** A held-back write that failed (nobody awaits it); the one made at once rejects to its caller instead. */
  onError?: (err: unknown) => void;
  /** Milliseconds on a monotonic clock. */
  now?: () => number;
}

/** The percentage follows from `done` and `total`. */
function sameValue(a: ProgressValue | undefined, b: ProgressValue): boolean {
  const totalOf = (v: ProgressValue): number | undefined => ('total' in v ? v.total : undefined);
  return a !== undefined && a.done === b.done && totalOf(a) === totalOf(b);
}

/**
 * A job reporting each row would otherwise write to Redis (and publish an event) per row: writes
 * are coalesced to at most one per interval, the latest value winning. Writes go out in order.
 */
export function throttleProgress(write: (value: ProgressValue) => Promise<void>, options: ProgressThrottleOptions = {}): ProgressReporter {
  const intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS;
  const now = options.now ?? (() => performance.now());
  const onError = options.onError ?? (() => undefined);
  let lastWriteAt: number | undefined;
  let written: ProgressValue | undefined;
  let pending: ProgressValue | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let tail: Promise<void> = Promise.resolve();
  let stopped = false;

  const send = (value: ProgressValue): Promise<void> => {
    lastWriteAt = now();
    const sent = tail.then(() => write(value)).then(() => {
      written = value;
    });
    tail = sent.catch(() => undefined);
    return sent;
  };
  const sendPending = (): Promise<void> => {
    const value = pending;
    pending = undefined;
    if (!value || sameValue(written, value)) return Promise.resolve();
    return send(value).catch(onError);
  };

  return {
    report(done, total) {
      if (stopped) return Promise.resolve();
      const value = progressValue(done, total);
      if (timer !== undefined) {
        pending = value;
        return Promise.resolve();
      }
      const since = lastWriteAt === undefined ? Number.POSITIVE_INFINITY : now() - lastWriteAt;
      if (since >= intervalMs) return sameValue(written, value) ? Promise.resolve() : send(value);
      pending = value;
      timer = setTimeout(() => {
        timer = undefined;
        void sendPending();
      }, intervalMs - since);
      // Never what keeps a process alive: the runner flushes at the job's end.
      timer.unref();
      return Promise.resolve();
    },
    async flush() {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await sendPending();
      await tail;
    },
  };
}
