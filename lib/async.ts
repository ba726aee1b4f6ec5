import { setTimeout as delay } from 'node:timers/promises';

/** Sleeps that `stop()` ends at once: a stopping loop never waits out its timer, and leaves none behind. */
export interface Sleeper {
  readonly stopped: boolean;
  /** Resolves true after `ms`, or false as soon as the sleeper is stopped. */
  sleep(ms: number): Promise<boolean>;
  stop(): void;
}

export function createSleeper(): Sleeper {
  const controller = new AbortController();
  return {
    get stopped() {
      return controller.signal.aborted;
    },
    async sleep(ms) {
      if (controller.signal.aborted) return false;
      try {
        await delay(ms, undefined, { signal: controller.signal });
        return true;
      } catch {
        return false;
      }
    },
    stop: () => controller.abort(),
  };
}

/** `work`, or the error of `onTimeout` once `ms` have passed: bounds a call to a service that may hang. */
export async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** True once `work` settles within `ms`, false if it is still running then (it is left to run). */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  const settled = work.then(
    () => true,
    () => true,
  );
  if (!Number.isFinite(ms)) return settled;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([settled, late]);
  } finally {
    clearTimeout(timer);
  }
}
