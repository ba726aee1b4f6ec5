import type { Config } from '../lib/config';
import type { Enqueue } from '../jobs/context';
import { raiseAlert } from '../jobs/messaging/alert-ops';
import { QUEUE_NAMES } from '../lib/queue-names';
import type { Sweeper } from './sweeper';

/**
 * Once a period, across every worker process (the sweeper lock): a queue whose failed jobs reach
 * HUB_ALERT_FAILED_THRESHOLD alerts ops. The subject names the queue, not the count, so a queue that
 * stays over the line mails once an hour rather than once a minute. Restores nothing: returns 0.
 */
export function failedJobsWatch(deps: { config: Pick<Config, 'messaging'>; enqueue: Enqueue }): Sweeper {
  const threshold = deps.config.messaging.alertFailedThreshold;
  return {
    name: 'failed-jobs-watch',
    queue: 'ops',
    everyMs: 60_000,
    async sweep({ db, log, now, queues, signal }) {
      for (const name of QUEUE_NAMES) {
        if (signal.aborted) break;
        const failed = await queues.get(name).getFailedCount();
        if (failed < threshold) continue;
        await raiseAlert(
          { db, log, now, enqueue: deps.enqueue, config: deps.config },
          'queue-failed-jobs',
          `queue ${name} has ${threshold} or more failed jobs`,
          { queue: name, failed, threshold, board: `/admin/queues/queue/${name}?status=failed` },
        );
      }
      return 0;
    },
  };
}
