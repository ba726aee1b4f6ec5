/**
 * The hub's error taxonomy. Integrations turn vendor codes into these; only
 * `workers/run-job.ts` turns these into BullMQ behaviour.
 */

abstract class HubError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Transient: network, timeout, 5xx, vendor "busy", deadlock. Retried with backoff, using an attempt. */
export class RetryableError extends HubError {}

/**
 * The whole vendor account is throttled for `retryAfterMs`; no attempt is used. The runner pauses
 * the queue when its jobs all call that one account, else it delays only this job (workers/queues.ts).
 */
export class RateLimitedError extends HubError {
  constructor(
    readonly retryAfterMs: number,
    message = `rate limited for ${retryAfterMs} ms`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** This one job must wait until `untilMs` (epoch ms); nothing else pauses and no attempt is used. */
export class DeferredError extends HubError {
  constructor(
    readonly untilMs: number,
    message = `deferred until ${new Date(untilMs).toISOString()}`,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Will never succeed: bad input, bad signature, a business rule, a vendor's "never" code. Failed at once. */
export class PermanentError extends HubError {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The request left and its answer was lost (timeout, dropped connection): it may have taken effect.
 * A call without an idempotency key (an SMS, a WeChat message, an e-mail) is not repeated blindly:
 * its delivery row is marked UNKNOWN for a receipt or ops to settle.
 */
export class OutcomeUnknownError extends PermanentError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('OUTCOME_UNKNOWN', message, options);
  }
}

/** A payload that does not match its job's schema; the message names every bad field. */
export class InvalidPayloadError extends PermanentError {
  constructor(readonly fieldErrors: readonly string[]) {
    super('INVALID_PAYLOAD', fieldErrors.join('; '));
  }
}

/** Missing or invalid configuration: the process exits at start, naming every bad variable. */
export class ConfigError extends HubError {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/** mysql2 error numbers the hub reacts to. */
const ER_DUP_ENTRY = 1062;
const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;
/**
 * The server cannot do the work now, whatever the statement: read-only (1290 `--read-only`, 1792 a
 * read-only transaction: a primary demoted in a failover), shutting down (1053), this connection
 * killed (1927), too many connections (1040), or the connection gone (2006, 2013: as some proxies
 * report it).
 */
const UNAVAILABLE_ERRNOS = new Set([1040, 1053, 1290, 1792, 1927, 2006, 2013]);
/** The same, by mysql2's names for the server's refusals. */
const UNAVAILABLE_CODES = new Set([
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_OPTION_PREVENTS_STATEMENT',
  'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION',
  'ER_CONNECTION_KILLED',
  'POOL_ACQUIRE_TIMEOUT',
]);
/**
 * What happens on the socket. Counted only on errors mysql2 marks `fatal` (its connection is
 * gone): an HTTP client's ECONNREFUSED, wrapped as a job's cause, is a vendor's outage, not ours.
 */
const SOCKET_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface DriverErrorShape {
  errno?: unknown;
  fatal?: unknown;
  code?: unknown;
  sqlMessage?: unknown;
  message?: unknown;
  driverError?: unknown;
}

/** The mysql2 error in `err`: itself, TypeORM's `driverError`, or a `cause` a handler wrapped it in. */
function driverError(err: unknown, depth = 0): DriverErrorShape | undefined {
  if (!err || typeof err !== 'object' || depth > 4) return undefined;
  const e = err as DriverErrorShape & { cause?: unknown };
  if (e.driverError && typeof e.driverError === 'object') return e.driverError as DriverErrorShape;
  if (e.errno !== undefined || e.code !== undefined) return e;
  return driverError(e.cause, depth + 1);
}

/**
 * A unique-key violation on any key. Whether it means "already done" only the writer knows: a
 * handler claims its own idempotency key with `isDuplicateKeyOn` or `writeOnce`, and the runner
 * treats any other duplicate as the bug it is (docs/architecture.md, "Error classes").
 */
export function isDuplicateKeyError(err: unknown): boolean {
  return driverError(err)?.errno === ER_DUP_ENTRY;
}

/**
 * The name of the key a duplicate-key error names, `PRIMARY` for a primary key. MariaDB and MySQL
 * before 8.0.19 say `for key 'uk_x'`, later MySQL `for key 'table.uk_x'`: the table part is dropped.
 * Undefined when `err` is no duplicate or its message has no key name.
 */
export function duplicateKeyName(err: unknown): string | undefined {
  const d = driverError(err);
  if (d?.errno !== ER_DUP_ENTRY) return undefined;
  const text = typeof d.sqlMessage === 'string' ? d.sqlMessage : typeof d.message === 'string' ? d.message : '';
  const named = / for key '([^']+)'$/.exec(text)?.[1];
  return named?.slice(named.lastIndexOf('.') + 1);
}

/** A unique-key violation on `key` (an index name of the table written, `PRIMARY` for its primary key). */
export function isDuplicateKeyOn(err: unknown, key: string): boolean {
  // Index names compare without case in MySQL.
  return duplicateKeyName(err)?.toLowerCase() === key.toLowerCase();
}

/**
 * Runs one write that claims an idempotency key: true when it wrote, false when `key` refused it
 * as a duplicate, the work having been done before. Any other error, a duplicate on another key
 * included, is thrown. Inside a transaction InnoDB undoes only the refused statement.
 */
export async function writeOnce(key: string, write: () => Promise<unknown>): Promise<boolean> {
  try {
    await write();
    return true;
  } catch (err) {
    if (isDuplicateKeyOn(err, key)) return false;
    throw err;
  }
}

/**
 * The database cannot be reached or written at all (down, restarting, failing over, read-only):
 * nothing about the job is wrong, and no attempt should be spent on it. The runner makes such a
 * job wait for the database instead; the API answers 503 with Retry-After.
 */
export function isDatabaseUnavailableError(err: unknown): boolean {
  const d = driverError(err);
  if (!d) return false;
  const code = String(d.code);
  return UNAVAILABLE_ERRNOS.has(Number(d.errno)) || UNAVAILABLE_CODES.has(code) || (d.fatal === true && SOCKET_CODES.has(code));
}

/** Deadlock, lock wait timeout, or the database unavailable: worth another try. */
export function isTransientDatabaseError(err: unknown): boolean {
  const d = driverError(err);
  if (!d) return false;
  return d.errno === ER_LOCK_DEADLOCK || d.errno === ER_LOCK_WAIT_TIMEOUT || isDatabaseUnavailableError(err);
}

/**
 * Strict mode refusing one value: too long, out of range, not a date, NULL into NOT NULL, a failed
 * CHECK or JSON. The row's fault, never the database's: another attempt fails the same way.
 */
const BAD_VALUE_ERRNOS = new Set([1048, 1264, 1265, 1292, 1366, 1406, 3140, 3819, 4025]);

export function isBadValueDatabaseError(err: unknown): boolean {
  return BAD_VALUE_ERRNOS.has(Number(driverError(err)?.errno));
}
