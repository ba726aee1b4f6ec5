import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload } from '@apple/app-store-server-library';
import type { AppleEnvironment } from '../../integrations/apple/apple.client';

/** One App Store transaction as a notification, the status API or the replay tells it: what applyAppleTransactionState applies. */
export interface AppleTransactionState {
  environment: AppleEnvironment;
  transaction: JWSTransactionDecodedPayload;
  renewal: JWSRenewalInfoDecodedPayload | null;
  /** Apple's status code when known (status API, or a notification's data.status) */
  status: number | null;
  notificationType: string | null;
  subtype: string | null;
  /** ordering key: the notification's or status response's signedDate (ms) */
  signedDate: number;
}
