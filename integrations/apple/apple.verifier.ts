import { Environment, SignedDataVerifier, VerificationException, VerificationStatus } from '@apple/app-store-server-library';
import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload } from '@apple/app-store-server-library';
import { ConfigError, PermanentError, RetryableError } from '../../lib/errors';
import type { AppleEnvironment, AppleVerifier, VerifiedAppleNotification } from './apple.client';

/**
 * Apple's `SignedDataVerifier`, one per accepted environment. Only Production and Sandbox exist
 * here: the library skips every signature check for Xcode and LocalTesting.
 */

export interface AppleVerifierSettings {
  readonly bundleId: string;
  readonly appAppleId: number | null;
  readonly environments: readonly AppleEnvironment[];
  /** DER. */
  readonly rootCertificates: readonly Buffer[];
  readonly onlineChecks: boolean;
}

const LIBRARY_ENVIRONMENT: Record<AppleEnvironment, Environment> = { Production: Environment.PRODUCTION, Sandbox: Environment.SANDBOX };

/** A payload that failed verification, with the library's status name (`APPLE_VERIFICATION_INVALID_CERTIFICATE`, …). */
export class AppleVerificationError extends PermanentError {
  constructor(
    readonly status: VerificationStatus,
    what: string,
    options?: { cause?: unknown },
  ) {
    super(`APPLE_VERIFICATION_${VerificationStatus[status] ?? status}`, `${what} failed verification: ${VerificationStatus[status] ?? status}`, options);
  }
}

/** The library's verdict as the hub's classes: only an incomplete check (OCSP unreachable) is worth another try. */
export function verificationError(err: unknown, what: string): Error {
  if (err instanceof VerificationException) {
    if (err.status === VerificationStatus.RETRYABLE_VERIFICATION_FAILURE) {
      return new RetryableError(`${what} could not be verified now (revocation check unreachable)`, { cause: err });
    }
    return new AppleVerificationError(err.status, what, { cause: err });
  }
  return new AppleVerificationError(VerificationStatus.FAILURE, what, { cause: err });
}

export function createAppleVerifier(s: AppleVerifierSettings): AppleVerifier {
  if (s.environments.length === 0) throw new ConfigError(['APPLE_ENVIRONMENTS: at least one environment']);
  if (s.rootCertificates.length === 0) throw new ConfigError(['APPLE_ROOT_CA_FILES: no root certificate to trust']);
  const verifiers = new Map<AppleEnvironment, SignedDataVerifier>();
  for (const env of s.environments) {
    if (env === 'Production' && s.appAppleId === null) throw new ConfigError(['APPLE_APP_APPLE_ID: required to accept Production']);
    const appAppleId = env === 'Production' ? (s.appAppleId ?? undefined) : undefined;
    verifiers.set(env, new SignedDataVerifier([...s.rootCertificates], s.onlineChecks, LIBRARY_ENVIRONMENT[env], s.bundleId, appAppleId));
  }
  const verifierOf = (env: AppleEnvironment): SignedDataVerifier => {
    const v = verifiers.get(env);
    if (!v) throw new PermanentError('APPLE_ENVIRONMENT_NOT_ACCEPTED', `${env} is not in APPLE_ENVIRONMENTS`);
    return v;
  };

  async function verifyTransaction(env: AppleEnvironment, signed: string): Promise<JWSTransactionDecodedPayload> {
    const v = verifierOf(env);
    return v.verifyAndDecodeTransaction(signed).catch((err: unknown) => Promise.reject(verificationError(err, 'transaction')));
  }

  async function verifyRenewalInfo(env: AppleEnvironment, signed: string): Promise<JWSRenewalInfoDecodedPayload> {
    const v = verifierOf(env);
    return v.verifyAndDecodeRenewalInfo(signed).catch((err: unknown) => Promise.reject(verificationError(err, 'renewal info')));
  }

  return {
    async verifyNotification(signedPayload: string): Promise<VerifiedAppleNotification> {
      const refusals = new Map<string, VerificationException>();
      // The environment the payload claims goes first: a Sandbox notification is then checked once,
      // not twice. Nothing is trusted from the peek; the verifier checks the claim.
      const claimed = claimedEnvironment(signedPayload);
      const order = [...verifiers].sort(([a], [b]) => Number(b === claimed) - Number(a === claimed));
      for (const [environment, verifier] of order) {
        let payload;
        try {
          payload = await verifier.verifyAndDecodeNotification(signedPayload);
        } catch (err) {
          // The next environment's verifier may accept what this one refused for its environment. The
          // library checks the app Apple id (Production only) before the environment, and Sandbox
          // notifications carry none, so a Sandbox notification fails Production's verifier with
          // INVALID_APP_IDENTIFIER: that too goes on to the next. A bad signature or chain is final.
          const claimFailure = err instanceof VerificationException && (err.status === VerificationStatus.INVALID_ENVIRONMENT || err.status === VerificationStatus.INVALID_APP_IDENTIFIER);
          if (!claimFailure) throw verificationError(err, 'notification');
          refusals.set(environment, err);
          continue;
        }
        const data = payload.data;
        const transaction = data?.signedTransactionInfo ? await verifyTransaction(environment, data.signedTransactionInfo) : null;
        const renewal = data?.signedRenewalInfo ? await verifyRenewalInfo(environment, data.signedRenewalInfo) : null;
        return { environment, payload, transaction, renewal };
      }
      // Claims are checked after the signature, so the environment the payload claims is Apple's word:
      // the refusal of that environment's verifier is the one that explains, or none is configured.
      throw verificationError(refusals.get(claimed) ?? new VerificationException(VerificationStatus.INVALID_ENVIRONMENT), 'notification');
    },
    verifyTransaction,
    verifyRenewalInfo,
  };
}

function claimedEnvironment(signedPayload: string): string {
  try {
    const body = JSON.parse(Buffer.from(signedPayload.split('.')[1] ?? '', 'base64url').toString()) as { data?: { environment?: unknown } };
    return typeof body.data?.environment === 'string' ? body.data.environment : '';
  } catch {
    return '';
  }
}
