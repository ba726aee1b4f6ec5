import { existsSync } from 'node:fs';
import { z } from 'zod';
import { booleanFlag, integrationMode, optionalOrigin, optionalText, timeoutMs } from './config-fields';

/**
 * The App Store part of the environment (in-app purchases). lib/config.ts merges it into the one
 * schema; this file only parses what it is given.
 */

const ENVIRONMENTS = ['Production', 'Sandbox'] as const;
type Environment = (typeof ENVIRONMENTS)[number];

const existingFiles = optionalText.refine((v) => v === undefined || v.split(',').every((f) => existsSync(f.trim())), {
  message: 'expected comma-separated paths of existing files',
});

export const appleEnv = {
  APPLE_MODE: integrationMode.describe('emulator starts the App Store emulator in-process and posts its notifications to this hub (refused in production); default emulator in development, live in production'),
  APPLE_BUNDLE_ID: optionalText.refine((v) => v === undefined || /^[A-Za-z0-9.-]{1,155}$/.test(v), { message: 'expected a bundle id such as com.example.app' }).describe('The app\'s bundle id (a test app in emulator mode)'),
  APPLE_APP_APPLE_ID: optionalText.refine((v) => v === undefined || /^\d{1,19}$/.test(v), { message: 'expected the app Apple ID (digits)' }).describe('The app Apple ID; required to accept Production'),
  APPLE_ISSUER_ID: optionalText.refine((v) => v === undefined || /^[0-9a-fA-F-]{36}$/.test(v), { message: 'expected the issuer id (a UUID) from App Store Connect' }).describe('The App Store Connect API key\'s issuer id; required in live mode'),
  APPLE_KEY_ID: optionalText.refine((v) => v === undefined || /^[A-Z0-9]{10}$/.test(v), { message: 'expected the 10-character key id of the .p8 key' }).describe('The App Store Connect API key id; required in live mode'),
  APPLE_PRIVATE_KEY_FILE: optionalText.refine((v) => v === undefined || existsSync(v), { message: 'no such file' }).describe('The App Store Connect API key\'s .p8 file; required in live mode'),
  APPLE_ENVIRONMENTS: optionalText.refine((v) => v === undefined || v.split(',').every((p) => (ENVIRONMENTS as readonly string[]).includes(p.trim())), {
    message: 'expected Production, Sandbox or both, in the order to try them',
  }).describe('Environments accepted, in the order their verifiers are tried (default Production,Sandbox)'),
  APPLE_ROOT_CA_FILES: existingFiles.describe('Apple\'s root certificates, DER or PEM, comma-separated (the emulator\'s root in emulator mode); required in live mode'),
  APPLE_API_BASE_URL: optionalOrigin('https://api.storekit.apple.com').describe('Overrides the API origin for both environments (tests, proxies); default Apple\'s hosts'),
  APPLE_ONLINE_CHECKS: booleanFlag.describe('OCSP revocation checks and certificate dates against the clock (default true live, false emulator)'),
  APPLE_SANDBOX_GRANTS_VIP: booleanFlag.describe('Whether Sandbox purchases (App Review, TestFlight) grant VIP (default true)'),
  APPLE_TIMEOUT_MS: timeoutMs(10_000).describe('Timeout of each App Store API request'),
};

type AppleEnv = { HUB_ENV: 'development' | 'production' } & z.output<z.ZodObject<typeof appleEnv>>;

type Issue = (path: string, message: string) => void;

const modeOf = (e: AppleEnv): 'live' | 'emulator' => e.APPLE_MODE ?? (e.HUB_ENV === 'production' ? 'live' : 'emulator');

function environmentsOf(e: AppleEnv): Environment[] {
  return e.APPLE_ENVIRONMENTS ? [...new Set(e.APPLE_ENVIRONMENTS.split(',').map((p) => p.trim() as Environment))] : [...ENVIRONMENTS];
}

/** Live mode needs every credential and the roots: without them nothing Apple signs can be trusted. */
export function checkAppleEnv(e: AppleEnv, issue: Issue): void {
  if (modeOf(e) === 'live') {
    for (const name of ['APPLE_BUNDLE_ID', 'APPLE_ISSUER_ID', 'APPLE_KEY_ID', 'APPLE_PRIVATE_KEY_FILE', 'APPLE_ROOT_CA_FILES'] as const) {
      if (!e[name]) issue(name, 'required when APPLE_MODE=live');
    }
    if (environmentsOf(e).includes('Production') && !e.APPLE_APP_APPLE_ID) issue('APPLE_APP_APPLE_ID', 'required when APPLE_ENVIRONMENTS includes Production');
  }
  if (e.HUB_ENV === 'production' && e.APPLE_MODE === 'emulator') issue('APPLE_MODE', 'the emulator is refused when HUB_ENV=production');
}

export interface AppleConfig {
  /** `emulator` starts the App Store emulator in-process and points the live client at it. */
  readonly mode: 'live' | 'emulator';
  readonly bundleId: string;
  /** Checked on Production notifications; null only when Production is not accepted. */
  readonly appAppleId: number | null;
  readonly issuerId: string | null;
  readonly keyId: string | null;
  readonly privateKeyFile: string | null;
  /** Tried in this order: App Review and TestFlight send Sandbox notifications to production servers. */
  readonly environments: readonly Environment[];
  /** Apple's root certificates, PEM or DER (in emulator mode the emulator's root is used instead). */
  readonly rootCaFiles: readonly string[];
  /** Overrides Apple's hosts (both environments); null: api.storekit(-sandbox).apple.com. */
  readonly apiBaseUrl: string | null;
  /** OCSP revocation checks and expiry against the current time; off in emulator mode, which has no network to Apple. */
  readonly onlineChecks: boolean;
  readonly sandboxGrantsVip: boolean;
  readonly timeoutMs: number;
}

/** The emulator's app when no APPLE_BUNDLE_ID / APPLE_APP_APPLE_ID is set. */
const EMULATOR_BUNDLE_ID = 'com.example.jobhub';
const EMULATOR_APP_APPLE_ID = 1_234_567_890;

export function appleConfig(e: AppleEnv): AppleConfig {
  const mode = modeOf(e);
  return {
    mode,
    bundleId: e.APPLE_BUNDLE_ID ?? EMULATOR_BUNDLE_ID,
    appAppleId: e.APPLE_APP_APPLE_ID ? Number(e.APPLE_APP_APPLE_ID) : mode === 'emulator' ? EMULATOR_APP_APPLE_ID : null,
    issuerId: e.APPLE_ISSUER_ID ?? null,
    keyId: e.APPLE_KEY_ID ?? null,
    privateKeyFile: e.APPLE_PRIVATE_KEY_FILE ?? null,
    environments: environmentsOf(e),
    rootCaFiles: e.APPLE_ROOT_CA_FILES?.split(',').map((f) => f.trim()) ?? [],
    apiBaseUrl: e.APPLE_API_BASE_URL?.replace(/\/$/, '') ?? null,
    onlineChecks: e.APPLE_ONLINE_CHECKS ?? mode === 'live',
    sandboxGrantsVip: e.APPLE_SANDBOX_GRANTS_VIP ?? true,
    timeoutMs: e.APPLE_TIMEOUT_MS,
  };
}
