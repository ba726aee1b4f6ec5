import { createServer, type AddressInfo } from 'node:net';
import { simpleParser, type AddressObject, type ParsedMail } from 'mailparser';
import { PermanentError, RetryableError } from '../../lib/errors';
import type { MailClient } from '../../integrations/mail/mail.client';
import { MailOutcomeUnknownError, MailPermanentError, MailRetryableError } from '../../integrations/mail/mail.errors';
import { SmtpEmulator, type SmtpBehaviour } from '../../integrations/mail/emulator/mail.emulator';
import { SmtpMailClient, type SmtpMailOptions } from '../../integrations/mail/mail.live';
import { track } from '../support/resources';
import { until } from '../support/wait';
import { failure } from '../support/failure';

/** The live client against a real SMTP server in this process, over real sockets on loopback. */

const USER = 'hub-mailer';
const PASS = 'correct horse';
const FROM = '"学校通知" <notify@school.example>';

/** The hub's SMTP emulator (a real smtp-server) on loopback: the peer every test talks to. */
const peers: SmtpEmulator[] = [];
async function peer(behaviour: { rcpt?: SmtpBehaviour['rcpt']; data?: SmtpBehaviour['data']; auth?: boolean } = {}): Promise<SmtpEmulator> {
  const p = track({ kind: 'closable', value: await SmtpEmulator.start({ ...behaviour, auth: behaviour.auth ? { user: USER, pass: PASS } : undefined }), label: 'smtp peer' });
  peers.push(p);
  return p;
}

/** What the peer received as the envelope named it, and the message parsed. */
async function received(p: SmtpEmulator, i: number): Promise<{ envelopeTo: string[]; parsed: ParsedMail }> {
  const mail = p.received[i];
  if (!mail) throw new Error(`the peer received no message #${i}`);
  return { envelopeTo: mail.to, parsed: await simpleParser(mail.raw) };
}

const clients: MailClient[] = [];
function client(url: string, o: Partial<SmtpMailOptions> = {}): MailClient {
  const c = track({
    kind: 'closable',
    value: new SmtpMailClient({ url, connectionTimeoutMs: 5_000, greetingTimeoutMs: 5_000, socketTimeoutMs: 5_000, ...o }),
    label: 'mail client',
  });
  clients.push(c);
  return c;
}


const addresses = (a: AddressObject | AddressObject[] | undefined): string[] =>
  (Array.isArray(a) ? a : a ? [a] : []).flatMap((o) => o.value.map((v) => v.address ?? ''));

describe('SMTP mail client against a real SMTP server', () => {
  // Inside the describe: it runs before the leak guard's check.
  afterAll(async () => {
    for (const c of clients) await c.close();
    for (const p of peers) await p.stop();
  });

  it('delivers to/cc/subject/text with the right headers, UTF-8 included', async () => {
    const p = await peer({ auth: true });
    const mail = client(p.url);
    const receipt = await mail.send({
      from: FROM,
      to: ['parent.li@family.example', 'parent.wang@family.example'],
      cc: ['teacher@school.example'],
      subject: '期末成绩已发布 — Term results',
      text: '您好，孩子的期末成绩已发布，请登录查看。',
      html: '<p>您好，<b>期末成绩</b>已发布。</p>',
    });
    expect(receipt.accepted.sort()).toEqual(['parent.li@family.example', 'parent.wang@family.example', 'teacher@school.example']);
    expect(receipt.rejected).toEqual([]);
    expect(p.received).toHaveLength(1);
    const got = (await received(p, 0)).parsed;
    expect(got.subject).toBe('期末成绩已发布 — Term results');
    expect(got.text?.trim()).toBe('您好，孩子的期末成绩已发布，请登录查看。');
    expect(got.html).toContain('<b>期末成绩</b>');
    expect(got.from?.value[0]).toEqual({ name: '学校通知', address: 'notify@school.example' });
    expect(addresses(got.to)).toEqual(['parent.li@family.example', 'parent.wang@family.example']);
    expect(addresses(got.cc)).toEqual(['teacher@school.example']);
    expect(got.messageId).toBe(receipt.messageId);
    expect((await received(p, 0)).envelopeTo.sort()).toEqual(receipt.accepted);
  });

  it('sends with the Message-ID it is given, so a resend can be recognised', async () => {
    const p = await peer();
    const mail = client(p.url);
    const receipt = await mail.send({ from: FROM, to: ['a@family.example'], subject: 's', text: 't', messageId: '<notice-42@school.example>' });
    expect(receipt.messageId).toBe('<notice-42@school.example>');
    expect((await received(p, 0)).parsed.messageId).toBe('<notice-42@school.example>');
  });

  it('reuses pooled connections across messages and replaces one after maxMessages', async () => {
    const p = await peer({ auth: true });
    const pooled = client(p.url, { maxConnections: 1 });
    for (let i = 0; i < 5; i++) await pooled.send({ from: FROM, to: [`p${i}@family.example`], subject: `n${i}`, text: 'x' });
    expect(p.received).toHaveLength(5);
    expect(p.connections).toBe(1);

    const q = await peer();
    const recycled = client(q.url, { maxConnections: 1, maxMessages: 2 });
    for (let i = 0; i < 5; i++) await recycled.send({ from: FROM, to: [`q${i}@family.example`], subject: `n${i}`, text: 'x' });
    expect(q.received).toHaveLength(5);
    expect(q.connections).toBe(3);
  });

  it('450 on RCPT for every recipient is retryable', async () => {
    const p = await peer({ rcpt: { 'a@family.example': 450, 'b@family.example': 450 } });
    const err = await failure(client(p.url).send({ from: FROM, to: ['a@family.example', 'b@family.example'], subject: 's', text: 't' }));
    expect(err).toBeInstanceOf(MailRetryableError);
    expect(err).not.toBeInstanceOf(MailOutcomeUnknownError);
    expect((err as MailRetryableError).smtpCode).toBe(450);
    expect(p.received).toHaveLength(0);
  });

  it('550 on RCPT for every recipient is permanent, with the code', async () => {
    const p = await peer({ rcpt: { 'a@family.example': 550, 'b@family.example': 550 } });
    const err = await failure(client(p.url).send({ from: FROM, to: ['a@family.example', 'b@family.example'], subject: 's', text: 't' }));
    expect(err).toBeInstanceOf(PermanentError);
    expect(err).toBeInstanceOf(MailPermanentError);
    expect((err as MailPermanentError).smtpCode).toBe(550);
    expect((err as MailPermanentError).failure).toBe('recipient');
    // Errors end up in logs: addresses are masked there.
    expect(err.message).not.toContain('a@family.example');
  });

  it('a 452 and a 550 for all recipients is retryable: the deferred one may still go', async () => {
    const p = await peer({ rcpt: { 'a@family.example': 550, 'b@family.example': 452 } });
    const err = await failure(client(p.url).send({ from: FROM, to: ['a@family.example', 'b@family.example'], subject: 's', text: 't' }));
    expect(err).toBeInstanceOf(RetryableError);
    expect((err as MailRetryableError).smtpCode).toBe(452);
  });

  it('550 for one of two recipients succeeds and reports the rejected one', async () => {
    const p = await peer({ rcpt: { 'gone@family.example': 550 } });
    const receipt = await client(p.url).send({ from: FROM, to: ['gone@family.example', 'here@family.example'], subject: 's', text: 't' });
    expect(receipt.accepted).toEqual(['here@family.example']);
    expect(receipt.rejected).toHaveLength(1);
    expect(receipt.rejected[0]).toMatchObject({ address: 'gone@family.example', code: 550 });
    expect(receipt.rejected[0]?.response).toMatch(/^550 /);
    expect(p.received).toHaveLength(1);
    expect(p.received[0]?.to).toEqual(['here@family.example']);
  });

  it.each([452, 421])('%i after DATA is retryable, not an unknown outcome', async (code) => {
    const p = await peer({ data: code });
    const err = await failure(client(p.url).send({ from: FROM, to: ['a@family.example'], subject: 's', text: 't' }));
    expect(err).toBeInstanceOf(MailRetryableError);
    expect(err).not.toBeInstanceOf(MailOutcomeUnknownError);
    expect((err as MailRetryableError).smtpCode).toBe(code);
  });

  it('554 after DATA is permanent', async () => {
    const p = await peer({ data: 554 });
    const err = await failure(client(p.url).send({ from: FROM, to: ['a@family.example'], subject: 's', text: 't' }));
    expect(err).toBeInstanceOf(MailPermanentError);
    expect((err as MailPermanentError).smtpCode).toBe(554);
    expect((err as MailPermanentError).failure).toBe('message');
  });

  it('no answer after the whole message went out is an unknown outcome', async () => {
    const p = await peer({ data: 'silent' });
    const err = await failure(client(p.url, { socketTimeoutMs: 300 }).send({ from: FROM, to: ['a@family.example'], subject: 's', text: 't' }));
    expect(err).toBeInstanceOf(MailOutcomeUnknownError);
    expect(err).not.toBeInstanceOf(RetryableError);
  });

  it('no answer before the message went out is a plain retry', async () => {
    const p = await peer({ rcpt: { 'slow@family.example': 'silent' } });
    const err = await failure(client(p.url, { socketTimeoutMs: 300 }).send({ from: FROM, to: ['slow@family.example'], subject: 's', text: 't' }));
    expect(err).toBeInstanceOf(MailRetryableError);
    expect(err).not.toBeInstanceOf(MailOutcomeUnknownError);
  });

  it('a server that is down is retryable', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer();
      probe.listen(0, '127.0.0.1', () => {
        const free = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(free));
      });
    });
    const err = await failure(client(`smtp://127.0.0.1:${port}`).send({ from: FROM, to: ['a@family.example'], subject: 's', text: 't' }));
    expect(err).toBeInstanceOf(MailRetryableError);
    expect(err).not.toBeInstanceOf(MailOutcomeUnknownError);
  });

  it('wrong credentials (535) are permanent', async () => {
    const p = await peer({ auth: true });
    const err = await failure(client(p.url.replace(`:${encodeURIComponent(PASS)}@`, ':wrong@')).send({ from: FROM, to: ['a@family.example'], subject: 's', text: 't' }));
    expect(err).toBeInstanceOf(MailPermanentError);
    expect((err as MailPermanentError).code).toBe('SMTP_AUTH_FAILED');
    expect((err as MailPermanentError).smtpCode).toBe(535);
    expect(err.message).not.toContain('wrong');
    expect(p.received).toHaveLength(0);
  });

  it('close() ends every pooled connection', async () => {
    const p = await peer();
    const mail = client(p.url, { maxConnections: 3 });
    await Promise.all([0, 1, 2, 3, 4, 5].map((i) => mail.send({ from: FROM, to: [`c${i}@family.example`], subject: 's', text: 't' })));
    expect(p.received).toHaveLength(6);
    expect(p.open).toBeGreaterThan(0);
    await mail.close();
    await until('the server to see every connection closed', () => p.open === 0);
    expect(p.connections).toBeGreaterThan(0);
    await expect(mail.send({ from: FROM, to: ['late@family.example'], subject: 's', text: 't' })).rejects.toBeInstanceOf(PermanentError);
  });
});
