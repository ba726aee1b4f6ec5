import { randomUUID } from 'node:crypto';
import { PassThrough, pipeline, type Readable } from 'node:stream';
import nodemailer from 'nodemailer';
import { ConfigError, PermanentError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { maskText } from '../../lib/redact';
import type { MailClient, MailMessage, MailReceipt } from './mail.client';
import { rejectedRecipients, toHubError } from './mail.errors';

export interface SmtpMailOptions {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://user:pass@host:465` (TLS from the start). */
  url: string;
  /** Open connections at most; default 2. */
  maxConnections?: number;
  /** Messages per connection before it is replaced; default 100. */
  maxMessages?: number;
  /** At most `rateLimit` messages per `rateDelta` ms, across this client's connections (not across processes). */
  rateLimit?: number;
  rateDelta?: number;
  /** TCP connect; default 10 s (nodemailer's 2 min would hold a worker far too long). */
  connectionTimeoutMs?: number;
  /** Waiting for the server's greeting; default 10 s. */
  greetingTimeoutMs?: number;
  /** Inactivity on an open socket, e.g. an unanswered command; default 30 s. */
  socketTimeoutMs?: number;
  /** Verify the server's certificate (default true); false only for a private relay with a self-signed one. */
  rejectUnauthorized?: boolean;
  log?: Logger;
}

interface SmtpEndpoint {
  host: string;
  port: number;
  secure: boolean;
  auth?: { user: string; pass: string };
}

/** Reads the SMTP URL; its credentials never reach an error message. */
export function parseSmtpUrl(url: string): SmtpEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(['SMTP URL is not a URL']);
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') throw new ConfigError([`SMTP URL scheme must be smtp or smtps, not ${parsed.protocol}`]);
  if (!parsed.hostname) throw new ConfigError(['SMTP URL has no host']);
  const secure = parsed.protocol === 'smtps:';
  const port = parsed.port ? Number(parsed.port) : secure ? 465 : 587;
  const user = decodeURIComponent(parsed.username);
  const endpoint: SmtpEndpoint = { host: parsed.hostname.replace(/^\[|\]$/g, ''), port, secure };
  if (user) endpoint.auth = { user, pass: decodeURIComponent(parsed.password) };
  return endpoint;
}

/** Whether a message's bytes were all handed to the socket (the terminating dot follows right after). */
interface StreamWatch {
  streamed: boolean;
}

/**
 * The last stage of the message's stream. The connection starts reading it only once the server
 * answered DATA with 354, and its end means every byte went to the socket, the terminating dot
 * right after: from then on the server may have taken the message even if no reply comes back.
 * (Stages before it buffer ahead on their own, so their progress says nothing about the socket.)
 */
function watchedOutput(input: Readable, watch: StreamWatch): Readable {
  const output = new PassThrough();
  output.once('end', () => {
    watch.streamed = true;
  });
  // pipeline carries a failure of the input to the output, where the connection sees it.
  pipeline(input, output, () => undefined);
  return output;
}

/** The domain part of the sender, for generated Message-IDs. */
function senderDomain(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return match?.[1] ?? 'localhost';
}

type PoolTransport = ReturnType<typeof createPool>;

function createPool(endpoint: SmtpEndpoint, options: SmtpMailOptions) {
  return nodemailer.createTransport({
    pool: true,
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.secure,
    ...(endpoint.auth ? { auth: endpoint.auth } : {}),
    maxConnections: options.maxConnections ?? 2,
    maxMessages: options.maxMessages ?? 100,
    ...(options.rateLimit !== undefined ? { rateLimit: options.rateLimit, rateDelta: options.rateDelta ?? 1_000 } : {}),
    connectionTimeout: options.connectionTimeoutMs ?? 10_000,
    greetingTimeout: options.greetingTimeoutMs ?? 10_000,
    socketTimeout: options.socketTimeoutMs ?? 30_000,
    tls: { rejectUnauthorized: options.rejectUnauthorized ?? true },
    // nodemailer's own logging would print addresses; outcomes are logged here, masked.
    logger: false,
    debug: false,
  });
}

/** SMTP through one pooled nodemailer transport: connections are reused across sends. */
export class SmtpMailClient implements MailClient {
  private readonly transport: PoolTransport;
  /** Watches of sends under way, by Message-ID (a list: two sends may share an id). */
  private readonly watches = new Map<string, StreamWatch[]>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly options: SmtpMailOptions) {
    this.transport = createPool(parseSmtpUrl(options.url), options);
    this.transport.use('stream', (mail, callback) => {
      const id = mail.data.messageId;
      const watch = typeof id === 'string' ? this.watches.get(id)?.shift() : undefined;
      // Called for every stream made, so a message requeued after a dropped connection is watched again.
      if (watch) mail.message.processFunc((input) => watchedOutput(input, watch));
      callback();
    });
  }

  async send(message: MailMessage): Promise<MailReceipt> {
    if (this.closed) throw new PermanentError('MAIL_CLIENT_CLOSED', 'the mail client is closed');
    const messageId = message.messageId ?? `<${randomUUID()}@${senderDomain(message.from)}>`;
    const watch: StreamWatch = { streamed: false };
    const list = this.watches.get(messageId) ?? [];
    list.push(watch);
    this.watches.set(messageId, list);
    const work = this.transport.sendMail({
      from: message.from,
      to: message.to,
      ...(message.cc && message.cc.length > 0 ? { cc: message.cc } : {}),
      subject: message.subject,
      ...(message.text !== undefined ? { text: message.text } : {}),
      ...(message.html !== undefined ? { html: message.html } : {}),
      messageId,
    });
    this.inFlight.add(work);
    try {
      const info = await work;
      const receipt: MailReceipt = {
        messageId: info.messageId || messageId,
        accepted: info.accepted.map(String),
        rejected: rejectedRecipients(info.rejectedErrors),
      };
      this.options.log?.info({ messageId: receipt.messageId, accepted: receipt.accepted.length, rejected: receipt.rejected.length }, 'mail sent');
      return receipt;
    } catch (err) {
      const hubError = toHubError(err, watch.streamed);
      this.options.log?.warn({ messageId, err: maskText(hubError.message), kind: hubError.name }, 'mail send failed');
      throw hubError;
    } finally {
      this.inFlight.delete(work);
      const left = this.watches.get(messageId)?.filter((w) => w !== watch) ?? [];
      if (left.length > 0) this.watches.set(messageId, left);
      else this.watches.delete(messageId);
    }
  }

  /** False once close() has been called. */
  isOpen(): boolean {
    return !this.closed;
  }

  /** Lets sends under way finish, then closes the pooled connections (each ends with QUIT). */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    this.transport.close();
  }
}
