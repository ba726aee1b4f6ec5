import type { SchoolTmsConfig } from '../../lib/config-school';
import type { Logger } from '../../lib/logger';
import { notOpened, type OpenedIntegration } from '../opened-integration';
import type { SchoolTmsClient } from './school-tms.client';
import type { SchoolTmsEmulator } from './emulator/school-tms.emulator';
import { LiveSchoolTmsClient } from './school-tms.live';

export type OpenedSchoolTms = OpenedIntegration<SchoolTmsClient, { readonly schoolTms?: SchoolTmsEmulator }>;

/** From configuration. In emulator mode the emulator starts here, knowing the configured client, and the live client talks to it. */
export async function openSchoolTms(config: SchoolTmsConfig, log: Logger): Promise<OpenedSchoolTms> {
  const tmsLog = log.child({ integration: 'school-tms' });
  const options = { clientId: config.clientId, clientSecret: config.clientSecret, timeoutMs: config.timeoutMs, log: tmsLog };
  if (config.mode === 'emulator') {
    // Loaded only here: a live process never carries the emulator's code.
    const { SchoolTmsEmulator } = await import('./emulator/school-tms.emulator');
    const emulator = await SchoolTmsEmulator.start();
    emulator.addClient(config.clientId, config.clientSecret);
    tmsLog.info({ baseUrl: emulator.baseUrl }, 'school system emulator started');
    return { client: new LiveSchoolTmsClient({ baseUrl: emulator.baseUrl, ...options }), emulators: { schoolTms: emulator }, close: () => emulator.stop() };
  }
  // Configuration refuses live mode without a base URL.
  return { client: new LiveSchoolTmsClient({ baseUrl: config.baseUrl ?? '', ...options }), emulators: {}, close: () => Promise.resolve() };
}

/** For processes that open no school system; using it fails, saying so. */
export const NO_SCHOOL_TMS: SchoolTmsClient = {
  schools: notOpened('school system'),
  students: notOpened('school system'),
  studentsOfParent: notOpened('school system'),
};
