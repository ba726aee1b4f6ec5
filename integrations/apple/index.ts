import { readFileSync } from 'node:fs';
import type { AppleConfig } from '../../lib/config-apple';
import { ConfigError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { OpenedIntegration } from '../opened-integration';
import { notOpened } from '../opened-integration';
import type { AppleApiKey, AppleEnvironment, AppleIntegration } from './apple.client';
import type { AppleEmulator } from './emulator/apple.emulator';
import { LiveAppleApi } from './apple.live';
import { createAppleVerifier } from './apple.verifier';

/** Everything the App Store integration is built from, whether from configuration or from a test's emulator. */
export interface AppleSettings {
  readonly bundleId: string;
  readonly appAppleId: number | null;
  readonly environments: readonly AppleEnvironment[];
  readonly sandboxGrantsVip: boolean;
  /** DER. */
  readonly rootCertificates: readonly Buffer[];
  readonly onlineChecks: boolean;
  readonly apiKey: AppleApiKey;
  /** Null: Apple's hosts. */
  readonly apiBaseUrl: string | null;
  readonly timeoutMs: number;
}

/** The one code path from settings to the integration jobs use: production and tests alike. */
export function createAppleIntegration(s: AppleSettings, log: Logger): AppleIntegration {
  const verifier = createAppleVerifier(s);
  return {
    bundleId: s.bundleId,
    environments: s.environments,
    sandboxGrantsVip: s.sandboxGrantsVip,
    verifier,
    api: new LiveAppleApi(s, verifier, log),
  };
}

/** A root certificate file as Apple publishes it (DER, `.cer`) or converted to PEM. */
export function readRootCertificate(file: string): Buffer {
  const bytes = readFileSync(file);
  const pem = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(bytes.toString('latin1'));
  return pem?.[1] ? Buffer.from(pem[1].replace(/\s+/g, ''), 'base64') : bytes;
}

export type OpenedApple = OpenedIntegration<AppleIntegration, { readonly apple?: AppleEmulator }>;

/**
 * From configuration. In emulator mode the emulator starts here and posts its notifications to this
 * hub's own webhook; the verifier trusts the emulator's root instead of Apple's.
 */
export async function openApple(config: AppleConfig, hubPort: number, log: Logger): Promise<OpenedApple> {
  const appleLog = log.child({ integration: 'apple' });
  const common = {
    bundleId: config.bundleId,
    environments: config.environments,
    sandboxGrantsVip: config.sandboxGrantsVip,
    onlineChecks: config.onlineChecks,
    timeoutMs: config.timeoutMs,
  };
  if (config.mode === 'emulator') {
    // Loaded only here: a live process never carries the emulator's code.
    const { AppleEmulator } = await import('./emulator/apple.emulator');
    const appAppleId = config.appAppleId ?? 0;
    const emulator = await AppleEmulator.start({ bundleId: config.bundleId, appAppleId, notificationUrl: `http://127.0.0.1:${hubPort}/webhooks/apple` });
    appleLog.info({ baseUrl: emulator.baseUrl, bundleId: config.bundleId }, 'app store emulator started');
    const apple = createAppleIntegration(
      { ...common, appAppleId, rootCertificates: [emulator.rootCertificateDer], apiKey: emulator.apiKey, apiBaseUrl: config.apiBaseUrl ?? emulator.baseUrl },
      appleLog,
    );
    return { client: apple, emulators: { apple: emulator }, close: () => emulator.stop() };
  }
  // lib/config-apple.ts already refused these; a config built by hand gets the same answer.
  const missing = [
    ...(['issuerId', 'keyId', 'privateKeyFile'] as const).filter((k) => !config[k]),
    ...(config.rootCaFiles.length === 0 ? ['rootCaFiles'] : []),
  ];
  if (missing.length > 0) throw new ConfigError(missing.map((m) => `APPLE_MODE=live needs ${m}`));
  const apple = createAppleIntegration(
    {
      ...common,
      appAppleId: config.appAppleId,
      rootCertificates: config.rootCaFiles.map(readRootCertificate),
      apiKey: { issuerId: config.issuerId ?? '', keyId: config.keyId ?? '', privateKeyPem: readFileSync(config.privateKeyFile ?? '', 'utf8') },
      apiBaseUrl: config.apiBaseUrl,
    },
    appleLog,
  );
  return { client: apple, emulators: {}, close: () => Promise.resolve() };
}

/** For processes whose jobs call no App Store (benchmarks, tests of other systems); using it fails, saying so. */
export const NO_APPLE: AppleIntegration = {
  bundleId: 'none',
  environments: [],
  sandboxGrantsVip: false,
  verifier: { verifyNotification: notOpened('App Store'), verifyTransaction: notOpened('App Store'), verifyRenewalInfo: notOpened('App Store') },
  api: {
    getTransactionInfo: notOpened('App Store'),
    getTransactionHistory: notOpened('App Store'),
    getAllSubscriptionStatuses: notOpened('App Store'),
    getNotificationHistory: notOpened('App Store'),
    getRefundHistory: notOpened('App Store'),
  },
};
