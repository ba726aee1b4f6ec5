import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { optionalText } from './config-fields';
import { HUB_ROLES, parseUsersFile, USER_NAME, UsersFileError, type HubRole, type HubUser } from './users';

/**
 * The dashboard's named accounts and single sign-on. lib/config.ts merges this part into the one
 * schema. The users file is read once when the configuration loads: a change applies on restart.
 */

/** `name:role,…,*:role` → the map; null when malformed. */
export function parseTrustedRoles(text: string): ReadonlyMap<string, HubRole> | null {
  const roles = new Map<string, HubRole>();
  for (const entry of text.split(',')) {
    const colon = entry.lastIndexOf(':');
    const name = entry.slice(0, colon).trim();
    const role = entry.slice(colon + 1).trim();
    if (colon < 0 || !(name === '*' || USER_NAME.test(name)) || !(HUB_ROLES as readonly string[]).includes(role) || roles.has(name)) return null;
    roles.set(name, role as HubRole);
  }
  return roles;
}

/** The users of HUB_USERS_FILE, read and checked when the configuration loads. */
const usersFile = optionalText.transform((path, ctx): HubUser[] | undefined => {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})` });
    return z.NEVER;
  }
  try {
    return parseUsersFile(text);
  } catch (err) {
    if (!(err instanceof UsersFileError)) throw err;
    for (const problem of err.problems) ctx.addIssue({ code: 'custom', message: `${path} ${problem}` });
    return z.NEVER;
  }
});

export const usersEnv = {
  HUB_USERS_FILE: usersFile.describe('A file of named dashboard accounts, one name:role:scrypt-hash line each (roles admin, operator, viewer); read at start, restart to apply'),
  HUB_TRUSTED_USER_HEADER: optionalText.refine((v) => v === undefined || /^[A-Za-z0-9-]{1,64}$/.test(v), {
    message: 'expected a header name such as X-Auth-Request-Email',
  }).describe('Single sign-on: the header a login proxy sets to the signed-in person (X-Auth-Request-Email), honoured only from the peer addresses in HUB_TRUSTED_PROXIES'),
  HUB_TRUSTED_ROLES: optionalText.refine((v) => v === undefined || parseTrustedRoles(v) !== null, {
    message: 'expected comma-separated name:role, role admin, operator or viewer, * for everyone else, each name once',
  }).describe('Single sign-on: the role of each name the header gives (alice@corp.cn:admin,*:viewer); a name not listed, without *, is refused'),
};

type UsersEnv = z.output<z.ZodObject<typeof usersEnv>> & { HUB_TRUSTED_PROXIES?: string | undefined; BOARD_USERNAME?: string | undefined; BOARD_VIEWER_USERNAME?: string | undefined };

type Issue = (path: string, message: string) => void;

/** The header is only safe behind a proxy that sets it; a name must mean one account. */
export function checkUsersEnv(e: UsersEnv, issue: Issue): void {
  if (e.HUB_TRUSTED_USER_HEADER && !e.HUB_TRUSTED_PROXIES) {
    issue('HUB_TRUSTED_USER_HEADER', 'requires HUB_TRUSTED_PROXIES: the header is honoured only from the proxy that sets it');
  }
  if (e.HUB_TRUSTED_USER_HEADER && !e.HUB_TRUSTED_ROLES) issue('HUB_TRUSTED_ROLES', 'required with HUB_TRUSTED_USER_HEADER: it gives each name its role');
  if (e.HUB_TRUSTED_ROLES && !e.HUB_TRUSTED_USER_HEADER) issue('HUB_TRUSTED_USER_HEADER', 'required with HUB_TRUSTED_ROLES');
  for (const user of e.HUB_USERS_FILE ?? []) {
    if (user.name === e.BOARD_USERNAME || user.name === e.BOARD_VIEWER_USERNAME) {
      issue('HUB_USERS_FILE', `user ${user.name} is also BOARD_USERNAME or BOARD_VIEWER_USERNAME: give each account one name`);
    }
  }
}

export interface TrustedUserHeader {
  /** Lower case, as Node gives header names. */
  readonly header: string;
  readonly roles: ReadonlyMap<string, HubRole>;
}

export interface UsersConfig {
  readonly users: readonly HubUser[];
  readonly trustedUser: TrustedUserHeader | null;
}

export function usersConfig(e: UsersEnv): UsersConfig {
  const roles = e.HUB_TRUSTED_ROLES ? parseTrustedRoles(e.HUB_TRUSTED_ROLES) : null;
  return {
    users: e.HUB_USERS_FILE ?? [],
    trustedUser: e.HUB_TRUSTED_USER_HEADER && roles ? { header: e.HUB_TRUSTED_USER_HEADER.toLowerCase(), roles } : null,
  };
}
