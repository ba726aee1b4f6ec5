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

let stampedMs = Number.NaN;
let stamp = '';

/** pino's isoTime, formatted once per millisecond: a busy worker writes many lines within one. */
function isoTime(): string {
  const now = Date.now();
  if (now !== stampedMs) {
    stampedMs = now;
    stamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return stamp;
}

/** The text arguments of a log call (message, format arguments) masked; the array itself when none changes. */
function maskArgs(args: unknown[]): unknown[] {
  const [first] = args;
  // Given no message, pino takes the error's (`log.error(err)`, `log.error({ err })`): masked here like any other.
  if (args.length === 1 && first !== null && typeof first === 'object') {
    const err = first instanceof Error ? first : (first as { msg?: unknown }).msg === undefined ? (first as { err?: unknown }).err : undefined;
    const message = err !== null && typeof err === 'object' ? (err as { message?: unknown }).message : undefined;
    if (typeof message === 'string') return [first, maskText(message)];
  }
  let masked: unknown[] | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg !== 'string') continue;
    const text = maskText(arg);
    if (text !== arg) (masked ??= args.slice())[i] = text;
  }
  return masked ?? args;
}

type ChildFn = (this: Logger, bindings: Record<string, unknown>, options?: Parameters<Logger['child']>[1]) => Logger;

/** pino, JSON by default, with every line, every child's bindings and every error passed through the redaction rules. */
export function createLogger(options: LoggerOptions): Logger {
  const logger = pino(
    {
      level: options.level,
      base: redactDeep({ ...options.base }) as Record<string, unknown>,
      timestamp: isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => redactDeep(object) as Record<string, unknown>,
      },
      serializers: { err: serializeError, error: serializeError },
      hooks: {
        logMethod(args, method) {
          return method.apply(this, maskArgs(args) as Parameters<typeof method>);
        },
      },
      ...(options.pretty && !options.destination ? { transport: { target: 'pino-pretty' } } : {}),
    },
    options.destination,
  );
  // pino writes a child's bindings into every line of the child without the log formatter: they are
  // masked here, once per child. Children inherit this method, so grandchildren are masked too.
  const child = logger.child as unknown as ChildFn;
  const redactedChild: ChildFn = function (this: Logger, bindings, childOptions) {
    return child.call(this, redactDeep(bindings) as Record<string, unknown>, childOptions);
  };
  (logger as unknown as { child: ChildFn }).child = redactedChild;
  return logger;
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
