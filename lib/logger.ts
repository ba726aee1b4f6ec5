import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import { maskText, redactDeep } from './redact';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level: string;
  pretty?: boolean;
  /** Bound to every line, e.g. `{ proc: 'worker' }`. */
  base?: Record<string, unknown>;
  /** Where lines go; stdout by default. Tests and benchmarks pass a stream or a file. */
  destination?: DestinationStream;
}

/** pino, JSON by default, with every line and every error passed through the redaction rules. */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { ...options.base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactDeep(object) as Record<string, unknown>,
      },
      serializers: { err: serializeError, error: serializeError },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((a: unknown) => (typeof a === 'string' ? maskText(a) : a));
          return method.apply(this, masked as Parameters<typeof method>);
        },
      },
      ...(options.pretty && !options.destination ? { transport: { target: 'pino-pretty' } } : {}),
    },
    options.destination,
  );
}

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  stack?: unknown;
  code?: unknown;
  cause?: unknown;
  [key: string]: unknown;
}

/** Properties that carry request headers, bodies or SQL parameters: never logged. */
const DROPPED_ERROR_KEYS = new Set(['config', 'request', 'response', 'parameters', 'sql', 'driverError', 'headers', 'toJSON']);

/**
 * Errors as log fields. Axios errors lose their request (headers carry tokens and signatures)
 * and their URL's query string; TypeORM query errors keep the SQL text but lose the parameters.
 */
export function serializeError(err: unknown, depth = 0): unknown {
  if (!err || typeof err !== 'object') return redactDeep(err);
  const e = err as ErrorLike;
  const out: Record<string, unknown> = {
    type: typeof e.name === 'string' ? e.name : (e.constructor?.name ?? 'Error'),
    message: typeof e.message === 'string' ? e.message : String(e.message),
  };
  for (const [key, value] of Object.entries(e)) {
    if (DROPPED_ERROR_KEYS.has(key) || key === 'cause' || key === 'message' || key === 'name') continue;
    if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) out[key] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) out[key] = value;
  }
  if (e.isAxiosError === true) Object.assign(out, describeAxiosError(e));
  if (typeof e.stack === 'string') out.stack = e.stack;
  if (e.cause !== undefined && depth < 3) out.cause = serializeError(e.cause, depth + 1);
  return redactDeep(out);
}

function describeAxiosError(e: ErrorLike): Record<string, unknown> {
  const config = (e.config ?? {}) as { method?: string; url?: string; baseURL?: string };
  const response = e.response as { status?: number; data?: unknown } | undefined;
  const url = config.url ? new URL(config.url, config.baseURL ?? 'http://invalid') : undefined;
  const body = response?.data;
  const bodyText = typeof body === 'string' ? body : body === undefined ? undefined : JSON.stringify(body);
  return {
    method: config.method?.toUpperCase(),
    url: url ? `${url.origin}${url.pathname}` : undefined,
    status: response?.status,
    // Vendor error bodies explain failures; short ones are kept, masked.
    responseBody: bodyText && bodyText.length <= 2_000 ? maskText(bodyText) : undefined,
  };
}
