import type { FastifyReply } from 'fastify';
import { withTimeout } from '../lib/async';

/** The one error body every API route answers with: a code for programs, a message for people. */
export interface ErrorBody {
  error: string;
  message: string;
  [detail: string]: unknown;
}

export function sendError(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).send(body);
}

/**
 * Errors of a producer connection that cannot reach Redis (fail-fast: no offline queue), and of a
 * cluster between a primary's death and its replica's promotion (CLUSTERDOWN, its slots unserved).
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (err instanceof RedisUnavailableError) return true;
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    err.name === 'ClusterAllFailedError' ||
    /enableOfflineQueue|Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|Stream isn't writeable/i.test(err.message) ||
    /CLUSTERDOWN|TRYAGAIN|MASTERDOWN|Too many Cluster redirections|None of startup nodes is available/.test(err.message)
  );
}

export class RedisUnavailableError extends Error {
  constructor(reason: string) {
    super(`redis unavailable: ${reason}`);
    this.name = 'RedisUnavailableError';
  }
}

/** Bounds a Redis round trip so a request never hangs on a half-dead connection. */
export function withRedisTimeout<T>(work: Promise<T>, ms = 5_000): Promise<T> {
  return withTimeout(work, ms, () => new RedisUnavailableError(`no answer within ${ms} ms`));
}
