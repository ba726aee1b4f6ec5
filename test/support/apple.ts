import type { AppleEnvironment, AppleIntegration } from '../../integrations/apple/apple.client';
import type { AppleApiKey } from '../../integrations/apple/apple.client';
import { AppleEmulator, type AppleEmulatorOptions } from '../../integrations/apple/emulator/apple.emulator';
import { createAppleIntegration } from '../../integrations/apple';
import { createLogger, type Logger } from '../../lib/logger';
import { track } from './resources';

export const APPLE_TEST_BUNDLE_ID = 'com.example.jobhub.test';
export const APPLE_TEST_APP_ID = 1_234_567_890;

/** Apple's 1, 12, 24, 48, 72 h between notification retries, as milliseconds a test can wait. */
export const APPLE_TEST_RETRY_DELAYS_MS = [20, 40, 60, 80, 100] as const;

/** The App Store emulator on a loopback port, closed-checked by the leak guard (call `stop()`). */
export async function startAppleEmulator(options: Partial<AppleEmulatorOptions> = {}): Promise<AppleEmulator> {
  const emulator = await AppleEmulator.start({
    bundleId: APPLE_TEST_BUNDLE_ID,
    appAppleId: APPLE_TEST_APP_ID,
    retryDelaysMs: APPLE_TEST_RETRY_DELAYS_MS,
    ...options,
  });
  track({ kind: 'closable', value: { isOpen: () => emulator.running }, label: 'apple emulator' });
  return emulator;
}

export interface AppleIntegrationTestOptions {
  environments?: readonly AppleEnvironment[];
  sandboxGrantsVip?: boolean;
  /** Overrides for the refusal cases: another app, another bundle, a key the emulator does not know. */
  appAppleId?: number;
  bundleId?: string;
  apiKey?: AppleApiKey;
  rootCertificates?: readonly Buffer[];
  /** Revocation checks against the current time (off by default, as in emulator mode). */
  onlineChecks?: boolean;
  timeoutMs?: number;
  log?: Logger;
}

/** The hub's AppleIntegration, built by the production code path, trusting the emulator's root and calling its API. */
export function appleIntegrationFor(emulator: AppleEmulator, o: AppleIntegrationTestOptions = {}): AppleIntegration {
  return createAppleIntegration(
    {
      bundleId: o.bundleId ?? APPLE_TEST_BUNDLE_ID,
      appAppleId: o.appAppleId ?? APPLE_TEST_APP_ID,
      environments: o.environments ?? ['Production', 'Sandbox'],
      sandboxGrantsVip: o.sandboxGrantsVip ?? true,
      rootCertificates: o.rootCertificates ?? [emulator.rootCertificateDer],
      onlineChecks: o.onlineChecks ?? false,
      apiKey: o.apiKey ?? emulator.apiKey,
      apiBaseUrl: emulator.baseUrl,
      timeoutMs: o.timeoutMs ?? 5_000,
    },
    o.log ?? createLogger({ level: 'silent' }),
  );
}
