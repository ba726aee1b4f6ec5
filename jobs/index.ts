import { buildRegistry, type JobDefinition } from './define-job';
import { hubCanary } from './hub-canary.job';
import { smsCodeCleanup } from './sms-code-cleanup.job';

/** Every job the hub runs: the only registry. */
export const JOBS: readonly JobDefinition[] = [smsCodeCleanup, hubCanary];

export const registry = buildRegistry(JOBS);

export { hubCanary, smsCodeCleanup };
