import { z } from 'zod';
import { integrationMode, optionalOrigin, optionalText, timeoutMs } from './config-fields';

/**
 * The school system (ZYEDU_TMS) part of the environment. lib/config.ts merges it into the one
 * schema; this file only parses what it is given.
 */

export const schoolEnv = {
  SCHOOL_TMS_MODE: integrationMode.describe('emulator starts the school system\'s emulator in-process (refused in production); default emulator in development, live in production'),
  SCHOOL_TMS_BASE_URL: optionalOrigin('https://tms.example.edu.cn').describe('The school system\'s origin; required in live mode'),
  SCHOOL_TMS_CLIENT_ID: optionalText.describe('The school system\'s OAuth client id; required in live mode'),
  SCHOOL_TMS_CLIENT_SECRET: optionalText.describe('The school system\'s OAuth client secret; required in live mode'),
  SCHOOL_TMS_TIMEOUT_MS: timeoutMs(10_000).describe('Per-request timeout of school system calls'),
  /** The contract caps `limit` at 500. */
  SCHOOL_TMS_PAGE_SIZE: z.coerce.number().int().min(1).max(500).default(500).describe('Records per page (the system\'s cap is 500)'),
};

type SchoolEnv = { HUB_ENV: 'development' | 'production' } & z.output<z.ZodObject<typeof schoolEnv>>;

type Issue = (path: string, message: string) => void;

const modeOf = (e: SchoolEnv): 'live' | 'emulator' => e.SCHOOL_TMS_MODE ?? (e.HUB_ENV === 'production' ? 'live' : 'emulator');

/** Live mode needs the address and the client credentials; production never runs the emulator. */
export function checkSchoolEnv(e: SchoolEnv, issue: Issue): void {
  if (modeOf(e) === 'live') {
    for (const name of ['SCHOOL_TMS_BASE_URL', 'SCHOOL_TMS_CLIENT_ID', 'SCHOOL_TMS_CLIENT_SECRET'] as const) {
      if (!e[name]) issue(name, 'required when SCHOOL_TMS_MODE=live');
    }
  }
  if (e.HUB_ENV === 'production' && e.SCHOOL_TMS_MODE === 'emulator') issue('SCHOOL_TMS_MODE', 'the emulator is refused when HUB_ENV=production');
}

export interface SchoolTmsConfig {
  /** `emulator` starts the school system's emulator in-process and points the live client at it. */
  readonly mode: 'live' | 'emulator';
  /** Null in emulator mode: the emulator's loopback address is used. */
  readonly baseUrl: string | null;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly timeoutMs: number;
  /** `limit` of every feed page. */
  readonly pageSize: number;
}

/** The emulator's client when no SCHOOL_TMS_CLIENT_ID / _SECRET is set. */
const EMULATOR_CLIENT = { id: 'jobhub-emulator', secret: 'emulator-school-client-secret' };

export function schoolConfig(e: SchoolEnv): SchoolTmsConfig {
  const mode = modeOf(e);
  return {
    mode,
    baseUrl: e.SCHOOL_TMS_BASE_URL?.replace(/\/$/, '') ?? null,
    clientId: e.SCHOOL_TMS_CLIENT_ID ?? EMULATOR_CLIENT.id,
    clientSecret: e.SCHOOL_TMS_CLIENT_SECRET ?? EMULATOR_CLIENT.secret,
    timeoutMs: e.SCHOOL_TMS_TIMEOUT_MS,
    pageSize: e.SCHOOL_TMS_PAGE_SIZE,
  };
}
