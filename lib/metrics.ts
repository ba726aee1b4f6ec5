import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus registry and the hub's own series. Every process serves it at `/metrics`;
 * queue depth gauges are added by the clock role (workers/queue-metrics.ts), one per deployment.
 * Each process sets its counters' known series to 0 at start (workers/initialise-metrics.ts), so
 * `increase()` sees the first event of a process rather than a series appearing at 1.
 */
export const metricsRegistry = new Registry();

export const jobsCompleted = new Counter({
  name: 'jobhub_jobs_completed_total',
  help: 'Jobs that completed, by outcome (done or skipped)',
  labelNames: ['job', 'queue', 'status'] as const,
  registers: [metricsRegistry],
});

export const jobsFailed = new Counter({
  name: 'jobhub_jobs_failed_total',
  help: 'Jobs that failed for good (attempts used up or a permanent error)',
  labelNames: ['job', 'queue'] as const,
  registers: [metricsRegistry],
});

export const jobsRetried = new Counter({
  name: 'jobhub_jobs_retried_total',
  help: 'Attempts that failed and will be retried',
  labelNames: ['job', 'queue'] as const,
  registers: [metricsRegistry],
});

export const jobDuration = new Histogram({
  name: 'jobhub_job_duration_seconds',
  help: 'Time an attempt spent running, from pick-up to outcome',
  labelNames: ['job', 'queue'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
  registers: [metricsRegistry],
});

export const jobWait = new Histogram({
  name: 'jobhub_job_wait_seconds',
  help: 'Time a job waited from ready (enqueued, or its delay ended) to its first start; re-runs are not observed (BullMQ keeps no ready time for them)',
  labelNames: ['job', 'queue'] as const,
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600, 7_200, 14_400],
  registers: [metricsRegistry],
});

export const outboxRows = new Counter({
  name: 'jobhub_outbox_rows_total',
  help: 'hub_outbox rows the relay handled, by outcome (enqueued or failed)',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});

export const clockSlots = new Counter({
  name: 'jobhub_clock_slots_total',
  help: 'Schedule slots the clock handled, by outcome (enqueued, duplicate, dropped, error)',
  labelNames: ['job', 'outcome'] as const,
  registers: [metricsRegistry],
});

export const sweeperRestored = new Counter({
  name: 'jobhub_sweeper_restored_total',
  help: 'Jobs a sweeper added again because MySQL says unfinished and Redis no longer had them',
  labelNames: ['sweeper'] as const,
  registers: [metricsRegistry],
});

export const sweeperRuns = new Counter({
  name: 'jobhub_sweeper_runs_total',
  help: 'Sweeper passes, by outcome (swept, skipped_locked: another process swept this period, error)',
  labelNames: ['sweeper', 'outcome'] as const,
  registers: [metricsRegistry],
});

let defaultsOn = false;

/** Process metrics (CPU, memory, event-loop lag); entry points call it once. */
export function collectProcessMetrics(): void {
  if (defaultsOn) return;
  defaultsOn = true;
  collectDefaultMetrics({ register: metricsRegistry, prefix: 'jobhub_' });
}

export const workersRecreated = new Counter({
  name: 'jobhub_workers_recreated_total',
  help: 'Workers the watchdog replaced because their blocking connection stayed down while Redis answered',
  labelNames: ['queue'] as const,
  registers: [metricsRegistry],
});

export const jobsHandedBack = new Counter({
  name: 'jobhub_jobs_handed_back_total',
  help: 'Running jobs moved back to wait by a shutting-down worker, for another worker to run',
  labelNames: ['job', 'queue'] as const,
  registers: [metricsRegistry],
});

export const jobsWaitingForDatabase = new Counter({
  name: 'jobhub_jobs_waiting_for_database_total',
  help: 'Jobs that met MySQL unreachable, read-only or shutting down and were delayed without using an attempt',
  labelNames: ['job', 'queue'] as const,
  registers: [metricsRegistry],
});

export const alertsRaised = new Counter({
  name: 'jobhub_alerts_total',
  help: 'Conditions ops must look at (an amount WeChat reports differing from ours, reconciliation discrepancies), by kind',
  labelNames: ['kind'] as const,
  registers: [metricsRegistry],
});

export const messagesDelivered = new Counter({
  name: 'jobhub_messages_total',
  help: 'Messages settled (SMS, WeChat, e-mail), by channel and final status: SENT, FAILED, or UNKNOWN (the answer was lost)',
  labelNames: ['channel', 'status'] as const,
  registers: [metricsRegistry],
});

export const smsReceipts = new Counter({
  name: 'jobhub_sms_receipts_total',
  help: 'SMS delivery receipts received, by provider and outcome (delivered, undelivered, unmatched, refused: a bad row acknowledged unapplied)',
  labelNames: ['provider', 'outcome'] as const,
  registers: [metricsRegistry],
});

export const boardLoginFailures = new Counter({
  name: 'jobhub_board_login_failures_total',
  help: 'Dashboard logins refused, by reason: bad_credentials (401) or throttled (429: too many failures for the user name or the address)',
  labelNames: ['reason'] as const,
  registers: [metricsRegistry],
});

export const auditWriteFailures = new Counter({
  name: 'jobhub_audit_write_failures_total',
  help: 'hub_audit rows that could not be written (the action itself went ahead); each is logged at error level',
  registers: [metricsRegistry],
});

export const alertWriteFailures = new Counter({
  name: 'jobhub_alert_write_failures_total',
  help: 'hub_alert rows that could not be written (the alert was still logged, counted and mailed); each is logged at error level',
  registers: [metricsRegistry],
});

export const jobsStalled = new Counter({
  name: 'jobhub_jobs_stalled_total',
  help: 'Running jobs found without a live lock (their worker died, lost Redis or blocked its event loop) and moved back to wait, or failed after too many stalls',
  labelNames: ['queue'] as const,
  registers: [metricsRegistry],
});

/** What `/readyz` checks of the outside world, as `jobhub_dependency_up` labels. */
export const DEPENDENCIES = ['redis', 'mysql'] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

export type DependencyProbe = () => Promise<ReadonlyMap<Dependency, boolean>>;

let probeDependencies: DependencyProbe | null = null;

/**
 * The probe `jobhub_dependency_up` runs at each scrape: lib/health.ts hands over the checks its
 * `/readyz` runs, so the gauge and readiness never disagree and a process nobody probes still reports.
 */
export function reportDependenciesWith(probe: DependencyProbe): void {
  probeDependencies = probe;
}

export const dependencyUp = new Gauge({
  name: 'jobhub_dependency_up',
  help: "1 when this process's readiness check of the dependency (redis: PING; mysql: answering and writable) passes, 0 when it fails",
  labelNames: ['dependency'] as const,
  registers: [metricsRegistry],
  async collect() {
    const probe = probeDependencies;
    if (!probe) return;
    const outcomes = await probe();
    this.reset();
    for (const [dependency, up] of outcomes) this.set({ dependency }, up ? 1 : 0);
  },
});
