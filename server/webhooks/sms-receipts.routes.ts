import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import type { Integrations } from '../../integrations';
import type { SmsReceiptBatch } from '../../integrations/sms/sms.client';
import { applySmsReceipts } from '../../jobs/messaging/apply-sms-receipt';
import { PermanentError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { secretsEqual } from '../auth';
import { sendError } from '../http-errors';

/**
 * SMS delivery receipts pushed by Aliyun (SmsReport) and Tencent (status reports). The vendors sign
 * nothing, so the receipt URL carries a secret `token`, checked before the body is even parsed.
 * Receipts are small and final: they are applied here, in one transaction, and only then
 * acknowledged; a database error answers 5xx and the vendor pushes the batch again. A bad row (one
 * the client cannot read, an id too long for its column, a value the database refuses) is logged
 * and acknowledged with the rest: pushed again it would be refused again, and the batch with it.
 * A body with no readable row at all is no batch of this provider: 400.
 */

export interface SmsReceiptWebhookDeps {
  db: DataSource;
  integrations: Integrations;
  log: Logger;
  now: () => Date;
}

/** Refused rows named in one log line at most: a batch of garbage must not make a huge one. */
const REPORTED_ROWS = 20;

interface ReceiptRequest {
  Params: { provider: string };
  Querystring: { token?: string | string[] };
}

/** A missing or wrong token, or none configured (then every push is refused). */
function tokenAccepted(given: string | string[] | undefined, expected: string | null): boolean {
  if (expected === null || typeof given !== 'string') return false;
  return secretsEqual(given, expected);
}

async function handle(deps: SmsReceiptWebhookDeps, request: FastifyRequest<ReceiptRequest>, reply: FastifyReply): Promise<FastifyReply> {
  const { provider } = request.params;
  const log = deps.log.child({ webhook: 'sms-receipt', provider });
  const client = deps.integrations.sms.byName(provider);
  if (!client) return sendError(reply, 404, { error: 'unknown_provider', message: 'no such SMS provider' });
  if (!tokenAccepted(request.query.token, deps.integrations.sms.receiptToken)) {
    log.warn('sms receipt push refused: bad token');
    return sendError(reply, 403, { error: 'forbidden', message: 'receipt token missing or wrong' });
  }

  const raw = Buffer.isBuffer(request.body) ? request.body.toString('utf8') : '';
  let batch: SmsReceiptBatch;
  try {
    batch = client.parseReceipt(JSON.parse(raw) as unknown);
  } catch (err) {
    if (!(err instanceof SyntaxError) && !(err instanceof PermanentError)) throw err;
    log.warn({ reason: err.message.slice(0, 300), bytes: raw.length }, 'sms receipt push refused: malformed body');
    return sendError(reply, 400, { error: 'bad_receipt', message: 'not a receipt batch of this provider' });
  }
  if (batch.receipts.length === 0 && batch.rejected.length > 0) {
    log.warn({ rows: batch.rejected.length, rejected: batch.rejected.slice(0, REPORTED_ROWS), bytes: raw.length }, 'sms receipt push refused: no row is a receipt of this provider');
    return sendError(reply, 400, { error: 'bad_receipt', message: 'not a receipt batch of this provider' });
  }

  const { refused, ...counts } = await applySmsReceipts(deps.db, deps.now(), client.provider, batch);
  if (refused.length > 0) {
    log.warn({ ...counts, refusedCount: refused.length, refused: refused.slice(0, REPORTED_ROWS) }, 'sms receipts refused: the rest of the batch applied and acknowledged');
  }
  if (counts.unmatched > 0) log.info({ ...counts }, 'sms receipts without a delivery: acknowledged and dropped');
  else log.debug({ ...counts }, 'sms receipts applied');
  return reply.code(200).send(client.receiptAck);
}

/** `POST /webhooks/sms/:provider?token=…`, in a scope of its own that keeps the body raw until the token is checked. */
export function registerSmsReceiptWebhook(app: FastifyInstance, deps: SmsReceiptWebhookDeps): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    scope.post<ReceiptRequest>('/webhooks/sms/:provider', (request, reply) => handle(deps, request, reply));
  });
}
