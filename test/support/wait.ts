const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds: tests wait on other processes, clocks and event streams by condition, never by a fixed sleep. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 50): Promise<void> {
  for (const start = Date.now(); !(await check()); await sleep(intervalMs)) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
  }
}
