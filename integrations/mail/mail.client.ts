/**
 * E-mail over SMTP. One client per sending account; it keeps a small pool of connections open,
 * so it is built once per process and closed at shutdown.
 */

export interface MailMessage {
  /** `"Name" <address>` or a bare address. */
  from: string;
  to: string[];
  cc?: string[];
  subject: string;
  text?: string;
  html?: string;
  /**
   * `<id@domain>`. Give a stable one derived from the business key: a resend after an UNKNOWN
   * outcome then carries the same Message-ID, which receivers and reconciliation can de-duplicate on.
   */
  messageId?: string;
}

/** A recipient the server refused while the message still went to the others. */
export interface RejectedRecipient {
  address: string;
  /** The SMTP reply code (550, 452, …) when the server gave one. */
  code?: number;
  response: string;
}

export interface MailReceipt {
  /** The Message-ID header the message went out with. */
  messageId: string;
  accepted: string[];
  rejected: RejectedRecipient[];
}

export interface MailClient {
  /**
   * Resolves once the server took the message for at least one recipient. Throws RetryableError
   * (transient), MailOutcomeUnknownError (the message may have been taken: do not resend blindly)
   * or MailPermanentError.
   */
  send(message: MailMessage): Promise<MailReceipt>;
  /** Closes every pooled connection; sends in flight finish first. */
  close(): Promise<void>;
}

/** The account the hub sends from: the From of every message (MAIL_FROM) and the client that sends it. */
export interface Mailer {
  readonly from: string;
  readonly client: MailClient;
}
