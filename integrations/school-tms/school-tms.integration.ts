import type { SchoolTmsConfig } from '../../lib/config-school';
import type { Logger } from '../../lib/logger';
import type { SchoolTmsClient } from './school-tms.client';
import type { SchoolTmsEmulator } from './school-tms.emulator';
import { LiveSchoolTmsClient } from './school-tms.live';

export interface OpenedSchoolTms {
  readonly client: SchoolTmsClient;
  readonly emulator?: SchoolTmsEmulator;
  close(): Promise<void>;
}

/** From configuration. In emulator mode the emulator starts here, knowing the configured client, and the live client talks to it. */
export async function openSchoolTms(config: SchoolTmsConfig, log: Logger): Promise<OpenedSchoolTms> {
  const tmsLog = log.child({ integration: 'school-tms' });
  const options = { clientId: config.clientId, clientSecret: config.clientSecret, timeoutMs: config.timeoutMs, log: tmsLog };
  if (config.mode === 'emulator') {
    // Loaded only here: a live process never carries the emulator's code.
    const { SchoolTmsEmulator } = await import('./school-tms.emulator');
    const emulator = await SchoolTmsEmulator.start();
    emulator.addClient(config.clientId, config.clientSecret);
    tmsLog.info({ baseUrl: emulator.baseUrl }, 'school system emulator started');
    return { client: new LiveSchoolTmsClient({ baseUrl: emulator.baseUrl, ...options }), emulator, close: () => emulator.stop() };
  }
  // Configuration refuses live mode without a base URL.
  return { client: new LiveSchoolTmsClient({ baseUrl: config.baseUrl ?? '', ...options }), close: () => Promise.resolve() };
}

/** For processes that open no school system; using it fails, saying so. */
export const NO_SCHOOL_TMS: SchoolTmsClient = {
  schools: () => Promise.reject(new Error('no school system integration was opened in this process')),
  students: () => Promise.reject(new Error('no school system integration was opened in this process')),
  studentsOfParent: () => Promise.reject(new Error('no school system integration was opened in this process')),
};
