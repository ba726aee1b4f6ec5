/**
 * HUB_API_TOKENS: `client:token` or `client:token:scope`, comma-separated. Syntax only: lib/ cannot
 * see the job registry, so the API checks the job names of each scope when it starts (server/job-scopes.ts).
 */

export interface ApiToken {
  /** Names the caller in logs and in idempotent job ids. */
  readonly client: string;
  readonly token: string;
}

/** The jobs a token may enqueue and read over the API (HUB_API_TOKENS' optional third part). */
export interface JobScope {
  /** Every job off the `ops` queue. */
  readonly business: boolean;
  /** Every job on the `ops` queue. */
  readonly ops: boolean;
  /** Jobs named one by one, besides. */
  readonly jobs: readonly string[];
}

export interface ScopedApiToken extends ApiToken {
  readonly scope: JobScope;
}

/** What a token without a scope may do: every business job, no ops job, so existing tokens lose nothing but the ops jobs. */
export const DEFAULT_JOB_SCOPE: JobScope = { business: true, ops: false, jobs: [] };

/** A scope item: `business`, `ops` or a job name (kebab-case, as jobs/define-job.ts requires). */
const SCOPE_ITEM = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Tokens hold no `:` (nor `,`), so a third part is always the scope. */
const TOKEN_ENTRY = /^\s*([A-Za-z0-9_-]{1,32}):([^\s:]{16,})(?::(\S+))?\s*$/;

/** `business|ops|job-name|…` → the scope; null when malformed. */
function parseJobScope(text: string): JobScope | null {
  const items = text.split('|');
  if (!items.every((item) => SCOPE_ITEM.test(item))) return null;
  const jobs = items.filter((item) => item !== 'business' && item !== 'ops');
  return { business: items.includes('business'), ops: items.includes('ops'), jobs: [...new Set(jobs)] };
}

/** `client:token[:scope],…` → the tokens with their scopes; null when malformed. */
export function parseApiTokens(text: string): ScopedApiToken[] | null {
  const tokens: ScopedApiToken[] = [];
  for (const entry of text.split(',')) {
    const match = TOKEN_ENTRY.exec(entry);
    if (!match?.[1] || !match[2]) return null;
    const scope = match[3] === undefined ? DEFAULT_JOB_SCOPE : parseJobScope(match[3]);
    if (!scope) return null;
    tokens.push({ client: match[1], token: match[2], scope });
  }
  return tokens;
}
