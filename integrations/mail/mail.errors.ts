import { OutcomeUnknownError, PermanentError, RetryableError } from '../../lib/errors';
import { maskText } from '../../lib/redact';
import type { RejectedRecipient } from './mail.client';

/**
 * nodemailer / SMTP failures turned into the hub's error classes. RFC 5321: a
 * 4yz reply is transient, a 5yz reply permanent. The only place that reads SMTP reply codes.
 */

/** Who must act on a permanent failure. */
export type MailFailure =
  | 'recipient' // the server refused the recipients or the message: nothing to send to
  | 'config' // credentials, TLS or the transport's settings: an operator must fix them
  | 'message'; // the message itself (size, content) was refused

/** Socket-level failures: the server may be back on the next attempt. */
const CONNECTION_CODES: ReadonlySet<string> = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE']);
const CONFIG_CODES: ReadonlySet<string> = new Set(['EAUTH', 'ENOAUTH', 'EOAUTH2', 'ETLS', 'EREQUIRETLS', 'ECONFIG', 'EPROXY']);

/** The fields nodemailer puts on its errors (lib/smtp-connection `_formatError`). */
export interface SmtpErrorShape {
  message: string;
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejectedErrors?: unknown[];
}

function field(err: object, key: string): unknown {
  return (err as Record<string, unknown>)[key];
}

export function smtpErrorShape(err: unknown): SmtpErrorShape {
  if (!err || typeof err !== 'object') return { message: String(err) };
  const code = field(err, 'code');
  const responseCode = field(err, 'responseCode');
  const response = field(err, 'response');
  const command = field(err, 'command');
  const rejectedErrors = field(err, 'rejectedErrors');
  const message = field(err, 'message');
  return {
    message: typeof message === 'string' ? message : String(err),
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof responseCode === 'number' ? { responseCode } : {}),
    ...(typeof response === 'string' ? { response } : {}),
    ...(typeof command === 'string' ? { command } : {}),
    ...(Array.isArray(rejectedErrors) ? { rejectedErrors } : {}),
  };
}

/** What the server or the socket said, kept as the cause with addresses masked: hub errors end up in logs. */
export class SmtpFailure extends Error {
  readonly code: string | undefined;
  readonly responseCode: number | undefined;
  readonly command: string | undefined;

  constructor(shape: SmtpErrorShape) {
    super(maskText(shape.message));
    this.name = 'SmtpFailure';
    this.code = shape.code;
    this.responseCode = shape.responseCode;
    this.command = shape.command;
  }
}

/** A permanent SMTP answer; `smtpCode` is the reply code (550, 535, …) when there was one. */
export class MailPermanentError extends PermanentError {
  constructor(
    code: string,
    readonly smtpCode: number | undefined,
    readonly failure: MailFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** A transient failure before the server could have taken the message: resending cannot deliver twice. */
export class MailRetryableError extends RetryableError {
  constructor(
    readonly smtpCode: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The whole message went out and the connection failed before the server's reply to it: the server
 * may have queued it. Never resent blindly: the delivery row is marked UNKNOWN for ops to settle.
 */
export class MailOutcomeUnknownError extends OutcomeUnknownError {}

/** Every refused recipient from nodemailer's `rejectedErrors` (addresses as given, for the receipt). */
export function rejectedRecipients(rejectedErrors: readonly unknown[] | undefined): RejectedRecipient[] {
  const out: RejectedRecipient[] = [];
  for (const item of rejectedErrors ?? []) {
    if (!item || typeof item !== 'object') continue;
    const recipient = field(item, 'recipient');
    const shape = smtpErrorShape(item);
    out.push({
      address: typeof recipient === 'string' ? recipient : '',
      ...(shape.responseCode !== undefined ? { code: shape.responseCode } : {}),
      response: shape.response ?? shape.message,
    });
  }
  return out;
}

const isTransientCode = (code: number): boolean => code >= 400 && code < 500;
// 503 is "bad sequence of commands": the session was off, not the message (nodemailer's isPermanentResponseCode agrees).
const isPermanentCode = (code: number): boolean => code >= 500 && code < 600 && code !== 503;

/**
 * Maps a failed send. `messageStreamed` says the whole message body was handed to the socket, so
 * a failure without an SMTP reply may have happened after the server took it.
 */
export function toHubError(err: unknown, messageStreamed: boolean): Error {
  const shape = smtpErrorShape(err);
  const cause = new SmtpFailure(shape);
  const reply = shape.responseCode;
  const text = `SMTP ${shape.command ?? 'send'} failed: ${cause.message}`;

  if (reply === undefined && shape.code !== undefined && CONNECTION_CODES.has(shape.code)) {
    if (messageStreamed) return new MailOutcomeUnknownError(`${text}; the message may have been delivered`, { cause });
    return new MailRetryableError(undefined, text, { cause });
  }
  if (shape.code !== undefined && CONFIG_CODES.has(shape.code)) {
    // A 4xx during AUTH (454 temporary authentication failure) is the server's trouble, not the credentials'.
    if (reply !== undefined && isTransientCode(reply)) return new MailRetryableError(reply, text, { cause });
    return new MailPermanentError(shape.code === 'EAUTH' ? 'SMTP_AUTH_FAILED' : 'SMTP_CONFIG', reply, 'config', text, { cause });
  }
  if (reply !== undefined && isTransientCode(reply)) return new MailRetryableError(reply, text, { cause });
  if (reply !== undefined && isPermanentCode(reply)) {
    if (shape.command === 'RCPT TO') return new MailPermanentError('SMTP_RECIPIENTS_REJECTED', reply, 'recipient', text, { cause });
    if (shape.command === 'MAIL FROM') return new MailPermanentError('SMTP_SENDER_REJECTED', reply, 'config', text, { cause });
    return new MailPermanentError('SMTP_MESSAGE_REJECTED', reply, 'message', text, { cause });
  }
  if (shape.code === 'EENVELOPE' && reply === undefined) {
    // No recipients, an invalid address: our input, which no retry changes.
    return new MailPermanentError('SMTP_INVALID_ENVELOPE', undefined, 'recipient', text, { cause });
  }
  if (messageStreamed) return new MailOutcomeUnknownError(`${text}; the message may have been delivered`, { cause });
  return new MailRetryableError(reply, text, { cause });
}
