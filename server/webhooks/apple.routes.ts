import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import { z } from 'zod';
import type { Integrations } from '../../integrations';
import type { VerifiedAppleNotification } from '../../integrations/apple/apple.client';
import { appleHandleNotification, appleNotifyJobId } from '../../jobs/apple/apple-handle-notification.job';
import { appleEventType, storeAppleNotification } from '../../jobs/apple/store-apple-notification';
import type { Enqueue } from '../../jobs/context';
import { PermanentError, RetryableError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { withRedisTimeout } from '../http-errors';

/**
 * App Store Server Notifications V2. The signed payload is verified (chain to a configured root,
 * marker OIDs, bundle, app, environment) before anything is written; stored once per
 * notificationUUID; handed to a job; answered 200 at once. Any other answer makes Apple send the
 * same notification again (1, 12, 24, 48, 72 h later).
 */

export interface AppleWebhookDeps {
  db: DataSource;
  integrations: Integrations;
  enqueue: Enqueue;
  log: Logger;
  now: () => Date;
}

const body = z.object({ signedPayload: z.string().min(1).max(200_000) });

function readBody(raw: Buffer): string | null {
  try {
    const parsed = body.safeParse(JSON.parse(raw.toString('utf8')));
    return parsed.success ? parsed.data.signedPayload : null;
  } catch {
    return null;
  }
}

async function handle(deps: AppleWebhookDeps, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const log = deps.log.child({ webhook: 'apple' });
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  const signedPayload = readBody(raw);
  if (signedPayload === null) {
    log.warn({ bytes: raw.length }, 'app store notification refused: body is not {"signedPayload"}');
    return reply.code(400).send({ error: 'BAD_REQUEST', message: 'body must be {"signedPayload": "<JWS>"}' });
  }
  let verified: VerifiedAppleNotification;
  try {
    verified = await deps.integrations.apple.verifier.verifyNotification(signedPayload);
  } catch (err) {
    if (err instanceof RetryableError) {
      log.warn({ err }, 'app store notification could not be verified now: Apple will send it again');
      return reply.code(503).send({ error: 'UNAVAILABLE', message: 'verification unavailable' });
    }
    const code = err instanceof PermanentError ? err.code : 'APPLE_VERIFICATION';
    log.warn({ code, reason: err instanceof Error ? err.message : String(err), bytes: raw.length }, 'app store notification refused');
    return reply.code(401).send({ error: 'UNVERIFIED', message: 'notification verification failed' });
  }

  const uuid = verified.payload.notificationUUID;
  let row: { rowId: string; created: boolean; handled: boolean };
  try {
    row = await storeAppleNotification(deps.db, verified, raw.toString('utf8'), deps.now());
  } catch (err) {
    if (err instanceof PermanentError) {
      log.warn({ code: err.code, reason: err.message, notificationUUID: uuid }, 'app store notification refused');
      return reply.code(400).send({ error: err.code, message: err.message });
    }
    log.error({ err, notificationUUID: uuid }, 'app store notification could not be stored');
    return reply.code(500).send({ error: 'STORE_FAILED', message: 'could not store the notification' });
  }
  if (row.handled) {
    log.debug({ notificationUUID: uuid, payNotifyLogId: row.rowId, created: row.created }, 'app store notification already handled');
    return reply.code(200).send();
  }
  try {
    await withRedisTimeout(deps.enqueue(appleHandleNotification, { payNotifyLogId: row.rowId }, { jobId: appleNotifyJobId(row.rowId) }));
  } catch (err) {
    // The row stays verified and unhandled: Apple's retry or the sweeper enqueues it again.
    log.warn({ err, notificationUUID: uuid, payNotifyLogId: row.rowId }, 'app store notification stored but not enqueued');
    return reply.code(503).send({ error: 'UNAVAILABLE', message: 'temporarily unavailable' });
  }
  log.debug({ notificationUUID: uuid, payNotifyLogId: row.rowId, duplicate: !row.created, eventType: appleEventType(verified) }, 'app store notification accepted');
  return reply.code(200).send();
}

/** `POST /webhooks/apple`, in a scope of its own whose parser keeps every body as raw bytes. */
export function registerAppleWebhook(app: FastifyInstance, deps: AppleWebhookDeps): void {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, payload, done) => done(null, payload));
    scope.post('/webhooks/apple', (request, reply) => handle(deps, request, reply));
  });
}
