import { buildRegistry, type JobDefinition } from './define-job';
import { smsCodeCleanup } from './sms-code-cleanup.job';

/** Every job the hub runs: the only registry. */
export const JOBS: readonly JobDefinition[] = [smsCodeCleanup];

export const registry = buildRegistry(JOBS);

export { smsCodeCleanup };
