/**
 * How long a job that met the database unavailable waits before it runs again, without using an
 * attempt: longer the longer this process has seen the outage last (half of it so far), between 1
 * and 10 s, so work resumes within seconds of the database's return; spread by a fifth so waiting
 * jobs do not return all at once. A job that reaches the database ends the outage for this process.
 * However long the outage, no job fails for it.
 */
export class DatabaseOutage {
  private since: number | null = null;

  constructor(private readonly now: () => number = Date.now) {}

  /** The wait for a job that just met the outage; the first such job starts the outage's clock. */
  waitMs(): number {
    const now = this.now();
    this.since ??= now;
    const base = Math.min(MAX_WAIT_MS, Math.max(MIN_WAIT_MS, (now - this.since) / 2));
    return Math.round(base * (1 + Math.random() * SPREAD));
  }

  /** A job finished: the database answered. */
  over(): void {
    this.since = null;
  }
}

const MIN_WAIT_MS = 1_000;
const MAX_WAIT_MS = 10_000;
const SPREAD = 0.2;
