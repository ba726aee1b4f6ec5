import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * The people who may use the dashboard (HUB_USERS_FILE): one `name:role:hash` line each. Parsing,
 * hashing, verifying and writing the file live here so the web process and a command line share them.
 */

export const HUB_ROLES = ['admin', 'operator', 'viewer'] as const;
/** admin: everything; operator: retry, promote, pause and resume; viewer: reads only. */
export type HubRole = (typeof HUB_ROLES)[number];

export interface HubUser {
  readonly name: string;
  readonly role: HubRole;
  /** `scrypt$N=…,r=…,p=…$<salt base64>$<hash base64>` */
  readonly hash: string;
}

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** 16 MiB and about 50 ms per hash on a small server: slow for a guesser, bearable for a login. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 16_384, r: 8, p: 1 };
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Bounds on parameters read from a file: a typo must not make one login take gigabytes or minutes. */
const MAX_LOG2_N = 20;
const MIN_LOG2_N = 10;

/** A name a person logs in with: an e-mail address or a short name; no `:` (the separator) and no spaces. */
export const USER_NAME = /^[^\s:#][^\s:]{0,127}$/;

const HASH_FORMAT = /^scrypt\$N=(\d{1,8}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

interface ParsedHash {
  params: ScryptParams;
  salt: Buffer;
  key: Buffer;
}

function parseHash(encoded: string): ParsedHash | null {
  const match = HASH_FORMAT.exec(encoded);
  if (!match) return null;
  const [, n, r, p, salt, key] = match;
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const log2 = Math.log2(params.N);
  if (!Number.isInteger(log2) || log2 < MIN_LOG2_N || log2 > MAX_LOG2_N) return null;
  if (params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) return null;
  const saltBytes = Buffer.from(salt ?? '', 'base64');
  const keyBytes = Buffer.from(key ?? '', 'base64');
  if (saltBytes.length < 8 || keyBytes.length < 16) return null;
  return { params, salt: saltBytes, key: keyBytes };
}

function derive(password: string, salt: Buffer, length: number, params: ScryptParams): Promise<Buffer> {
  // 128·N·r bytes is what scrypt needs; the default cap (32 MiB) would refuse N=2^18 and up.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, length, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A new hash of a password, with a random salt and the parameters written into it. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  if (password.length === 0) throw new Error('a password may not be empty');
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, KEY_BYTES, params);
  const encoded = `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
  if (!parseHash(encoded)) throw new Error(`scrypt parameters out of range: N=${params.N}, r=${params.r}, p=${params.p}`);
  return encoded;
}

/** Whether the password is the one hashed; false for a malformed hash. The keys are compared in constant time. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded);
  if (!parsed) return false;
  const key = await derive(password, parsed.salt, parsed.key.length, parsed.params);
  return timingSafeEqual(key, parsed.key);
}

/** Whether a hash is in the format `verifyPassword` reads, with parameters in range. */
export function isPasswordHash(encoded: string): boolean {
  return parseHash(encoded) !== null;
}

export class UsersFileError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'UsersFileError';
  }
}

/**
 * The users of a file's text. Blank lines and `#` comments are skipped; every other line must be
 * `name:role:hash`. Throws `UsersFileError` listing every bad line by its number (never a hash).
 */
export function parseUsersFile(text: string): HubUser[] {
  const users: HubUser[] = [];
  const problems: string[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split(':');
    const [name = '', role = '', ...rest] = parts;
    const hash = rest.join(':');
    if (parts.length < 3) return void problems.push(`line ${lineNo}: expected name:role:hash`);
    if (!USER_NAME.test(name)) return void problems.push(`line ${lineNo}: invalid user name (no spaces or ":", at most 128 characters)`);
    if (!(HUB_ROLES as readonly string[]).includes(role)) return void problems.push(`line ${lineNo}: role must be one of ${HUB_ROLES.join(', ')}`);
    if (!parseHash(hash)) return void problems.push(`line ${lineNo}: the password hash is not scrypt$N=…,r=…,p=…$<salt>$<hash> with parameters in range`);
    const earlier = seen.get(name);
    if (earlier !== undefined) return void problems.push(`line ${lineNo}: user ${name} is already on line ${earlier}`);
    seen.set(name, lineNo);
    users.push({ name, role: role as HubRole, hash });
  });
  if (problems.length > 0) throw new UsersFileError(problems);
  return users;
}

/** The file's text for these users, one line each, after an optional comment header. */
export function formatUsersFile(users: readonly HubUser[], header = '# name:role:scrypt-hash (admin, operator or viewer)'): string {
  for (const user of users) {
    if (!USER_NAME.test(user.name)) throw new Error(`invalid user name ${JSON.stringify(user.name)}`);
    if (!parseHash(user.hash)) throw new Error(`user ${user.name}: the password hash is malformed`);
  }
  const lines = header ? header.split('\n').map((l) => (l.startsWith('#') ? l : `# ${l}`)) : [];
  return `${[...lines, ...users.map((u) => `${u.name}:${u.role}:${u.hash}`)].join('\n')}\n`;
}
