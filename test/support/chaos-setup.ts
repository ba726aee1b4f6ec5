import { rmSync } from 'node:fs';
import { CHAOS_RESULTS_FILE } from './chaos';
import globalSetup from './global-setup';

/** The suite's own setup, with the figures of an earlier, interrupted run thrown away. */
export default async function chaosSetup(globalConfig: { maxWorkers: number }): Promise<void> {
  rmSync(CHAOS_RESULTS_FILE, { force: true });
  await globalSetup(globalConfig);
}
