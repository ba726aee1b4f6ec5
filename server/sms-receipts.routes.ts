import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import type { Integrations } from '../integrations';
import type { SmsReceipt } from '../integrations/sms/sms.client';
import { applySmsReceipts } from '../jobs/messaging/apply-sms-receipt';
import { PermanentError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { secretsEqual } from './auth';
import { sendError } from './http-errors';

/**
 * SMS delivery receipts pushed by Aliyun (SmsReport) and Tencent (status reports). The vendors sign
 * nothing, so the receipt URL carries a secret `token`, checked before the body is even parsed.
 * Receipts are small and final: they are applied here, in one transaction, and only then
 * acknowledged; a database error answers 5xx and the vendor pushes the batch again.
 */

export interface SmsReceiptWebhookDeps {
  db: DataSource;
  integrations: Integrations;
  log: Logger;
  now: () => Date;
}

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
  let receipts: SmsReceipt[];
  try {
    receipts = client.parseReceipt(JSON.parse(raw) as unknown);
  } catch (err) {
    if (!(err instanceof SyntaxError) && !(err instanceof PermanentError)) throw err;
    log.warn({ reason: err.message, bytes: raw.length }, 'sms receipt push refused: malformed body');
    return sendError(reply, 400, { error: 'bad_receipt', message: 'not a receipt batch of this provider' });
  }

  const counts = await applySmsReceipts(deps.db, deps.now(), client.provider, receipts);
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
