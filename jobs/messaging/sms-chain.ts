import type { SmsClient, SmsProvider, SmsSendResult } from '../../integrations/sms/sms.client';
import { createCircuitBreaker, type CircuitBreaker } from '../../lib/circuit-breaker';
import type { JobContext } from '../context';
import { DeferredError, PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';
import type { PreparedSms } from './sms-template';
import { hubRedisKeys, type RedisKeys } from '../../lib/redis-keys';

/**
 * One SMS through the providers in their configured order. A provider that is down (5xx, refused,
 * busy) or throttled hands over to the next; a refusal for good, an answer lost after the request
 * left (it may have been sent) or one phone's frequency limit ends the attempt at once: trying the
 * next provider then could send the message twice, or be refused for the same reason.
 */

export interface SmsSent {
  provider: SmsProvider;
  /** Aliyun BizId or Tencent SerialNo: what receipts carry. */
  providerMessageId: string;
}

type ChainContext = Pick<JobContext, 'integrations' | 'redis' | 'config' | 'log'>;

/** The circuit of one provider, shared by every worker of this hub (the queue prefix keeps hubs apart). */
export function smsCircuitKey(keys: RedisKeys, provider: SmsProvider): string {
  return keys.beside('sms', 'circuit', 'sms', provider);
}

function breakerOf(ctx: ChainContext, provider: SmsProvider): CircuitBreaker {
  return createCircuitBreaker({ redis: ctx.redis, key: smsCircuitKey(hubRedisKeys(ctx.config.redis), provider) });
}

/** A breaker that cannot reach Redis must not stop the message: it counts as closed. */
async function safely<T>(ctx: ChainContext, what: string, work: () => Promise<T>, fallback: T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    ctx.log.warn({ err }, `sms circuit breaker: ${what} failed`);
    return fallback;
  }
}

/** The send's verdict for our one number: a per-number failure inside a 200 is that number's error. */
function verdict(result: SmsSendResult): SmsSent {
  const first = result.perNumber[0];
  if (!first) throw new RetryableError(`${result.provider} SMS answered no status for the number`);
  if (!first.ok) throw first.error;
  return { provider: result.provider, providerMessageId: result.bizId ?? first.serialNo };
}

interface Failure {
  provider: SmsProvider;
  error: RateLimitedError | RetryableError;
}

/**
 * What the job throws when every provider tried failed over: the shortest wait if all were throttled
 * (the queue then pauses, using no attempt), else a retryable error naming each failure.
 */
function chainError(failures: readonly Failure[], skipped: readonly SmsProvider[]): RateLimitedError | RetryableError {
  const limited = failures.map((f) => f.error).filter((e): e is RateLimitedError => e instanceof RateLimitedError);
  if (limited.length === failures.length && limited.length > 0) {
    return limited.reduce((a, b) => (b.retryAfterMs < a.retryAfterMs ? b : a));
  }
  const parts = failures.map((f) => `${f.provider}: ${f.error.message}`).concat(skipped.map((p) => `${p}: circuit open, not tried`));
  return new RetryableError(`every SMS provider failed: ${parts.join('; ')}`);
}

/**
 * Sends `prepared` to `phone` (11 digits) through `ctx.integrations.sms.chain`. `outId` (the delivery
 * row's id) travels with the message and comes back in its receipt.
 */
export async function sendSmsThroughChain(ctx: ChainContext, phone: string, prepared: PreparedSms, outId: string): Promise<SmsSent> {
  const usable = ctx.integrations.sms.chain.filter((c) => prepared.templates[c.provider] !== undefined);
  if (usable.length === 0) {
    const configured = ctx.integrations.sms.chain.map((c) => c.provider).join(', ') || 'none';
    throw new PermanentError('NO_PROVIDER', `template ${prepared.templateKey} is approved at no configured SMS provider (configured: ${configured})`);
  }
  const failures: Failure[] = [];
  const skipped: SmsClient[] = [];

  const attempt = async (client: SmsClient, breaker: CircuitBreaker, clean = false): Promise<SmsSent | null> => {
    const template = prepared.templates[client.provider];
    if (!template) return null;
    try {
      const sent = verdict(await client.send(phone, template, { outId }));
      if (!clean) await safely(ctx, 'recordSuccess', () => breaker.recordSuccess(), undefined);
      return sent;
    } catch (err) {
      // PermanentError covers OutcomeUnknownError: the message may be out, so nobody else sends it.
      if (err instanceof PermanentError || err instanceof DeferredError) throw err;
      if (err instanceof RetryableError) {
        await safely(ctx, 'recordFailure', () => breaker.recordFailure(), undefined);
        failures.push({ provider: client.provider, error: err });
      } else if (err instanceof RateLimitedError) {
        failures.push({ provider: client.provider, error: err });
      } else {
        throw err;
      }
      ctx.log.warn({ provider: client.provider, err, phone }, 'sms provider failed: trying the next');
      return null;
    }
  };

  for (const client of usable) {
    const breaker = breakerOf(ctx, client.provider);
    const state = await safely(ctx, 'state', () => breaker.state(), 'closed' as const);
    if (state === 'open') {
      skipped.push(client);
      continue;
    }
    const sent = await attempt(client, breaker, state === 'clean');
    if (sent) return sent;
  }
  if (failures.length === 0) {
    // Every usable provider's circuit is open: try them all the same, rather than send nothing.
    ctx.log.warn({ providers: skipped.map((c) => c.provider) }, 'every sms circuit is open: trying the providers anyway');
    for (const client of skipped) {
      const sent = await attempt(client, breakerOf(ctx, client.provider));
      if (sent) return sent;
    }
    throw chainError(failures, []);
  }
  throw chainError(failures, skipped.map((c) => c.provider));
}
