import type { Integrations } from '../../integrations';
import type { SchoolTmsEmulator } from '../../integrations/school-tms/emulator/school-tms.emulator';
import { openSchoolTms } from '../../integrations/school-tms';
import type { Config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { track } from './resources';

/** The hub's integrations with the school system's emulator started as SCHOOL_TMS_MODE=emulator does, when asked for. */
export async function withSchoolTms(base: Integrations, wanted: boolean, deps: { config: Config; log: Logger }): Promise<Integrations> {
  if (!wanted) return base;
  const opened = await openSchoolTms({ ...deps.config.schoolTms, mode: 'emulator' }, deps.log);
  let open = true;
  track({ kind: 'closable', value: { isOpen: () => open }, label: 'school system emulator' });
  return {
    ...base,
    schoolTms: opened.client,
    emulators: { ...base.emulators, ...opened.emulators },
    async close() {
      open = false;
      await opened.close();
      await base.close();
    },
  };
}

/** The emulator of a hub opened with `schoolTms: true`. */
export function schoolEmulator(hub: { integrations: Integrations }): SchoolTmsEmulator {
  const emulator = hub.integrations.emulators.schoolTms;
  if (!emulator) throw new Error('open the hub with schoolTms: true');
  return emulator;
}
