import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';

/**
 * A local SMTP peer (a real `smtp-server` on loopback) for `npm start` without SMTP_URL and for tests:
 * it keeps every message it accepted, raw, and answers the reply codes it is told to.
 */

export interface ReceivedMail {
  from: string;
  /** The envelope's recipients the server accepted. */
  to: string[];
  /** The message as received (headers and body), for mailparser or a look. */
  raw: string;
}

export interface SmtpBehaviour {
  /** Reply code to RCPT TO by address; 'silent' never answers. */
  rcpt?: Record<string, number | 'silent'>;
  /** Reply code after the whole body; 'silent' takes the body and never answers. */
  data?: number | 'silent';
  /** Username and password the server requires (AUTH PLAIN/LOGIN); none by default. */
  auth?: { user: string; pass: string };
}

class SmtpReply extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

export class SmtpEmulator {
  readonly received: ReceivedMail[] = [];
  /** Connections opened so far, and open now: the client's pooling, seen from the server. */
  connections = 0;
  open = 0;
  behaviour: SmtpBehaviour;
  private readonly server: SMTPServer;
  private port = 0;
  private listening = false;

  private constructor(behaviour: SmtpBehaviour) {
    this.behaviour = behaviour;
    const auth = behaviour.auth;
    this.server = new SMTPServer({
      disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
      authOptional: !auth,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      closeTimeout: 1_000,
      onConnect: (_session, callback) => {
        this.connections += 1;
        this.open += 1;
        callback();
      },
      onClose: () => {
        this.open -= 1;
      },
      onAuth: (given, _session, callback) => {
        if (auth && given.username === auth.user && given.password === auth.pass) return callback(null, { user: auth.user });
        return callback(new SmtpReply(535, 'Authentication credentials invalid'));
      },
      onRcptTo: (address: SMTPServerAddress, _session, callback) => {
        const code = this.behaviour.rcpt?.[address.address];
        if (code === 'silent') return;
        if (code !== undefined) return callback(new SmtpReply(code, `mailbox ${code}`));
        callback();
      },
      onData: (stream, session: SMTPServerSession, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const code = this.behaviour.data;
          if (code === 'silent') return;
          // smtp-server answers 450 (transient) to an error without a code: always give one.
          if (code !== undefined) return callback(new SmtpReply(code, `data ${code}`));
          const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          this.received.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
          callback();
        });
      },
    });
    this.server.on('error', () => undefined);
  }

  static async start(behaviour: SmtpBehaviour = {}): Promise<SmtpEmulator> {
    const emu = new SmtpEmulator(behaviour);
    await new Promise<void>((resolve) => emu.server.listen(0, '127.0.0.1', resolve));
    emu.port = (emu.server.server.address() as AddressInfo).port;
    emu.listening = true;
    return emu;
  }

  /** `smtp://[user:pass@]127.0.0.1:<port>` for SMTP_URL or the client. */
  get url(): string {
    const auth = this.behaviour.auth;
    const credentials = auth ? `${encodeURIComponent(auth.user)}:${encodeURIComponent(auth.pass)}@` : '';
    return `smtp://${credentials}127.0.0.1:${this.port}`;
  }

  isOpen(): boolean {
    return this.listening;
  }

  async stop(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
