import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Config } from '../../lib/config';
import { DEFAULT_SCRYPT_PARAMS, hashPassword, verifyPassword, type HubRole, type HubUser } from '../../lib/users';
import { basicCredentials, secretsEqual } from '../auth';

export type BoardAccounts = Config['board'];

/** Who is behind a dashboard request, and how they proved it. */
export interface BoardIdentity {
  readonly name: string;
  readonly role: HubRole;
  /** `password`: HTTP Basic; `proxy`: the trusted single sign-on header. */
  readonly via: 'password' | 'proxy';
}

/**
 * The identity of each authenticated dashboard request, keyed by its headers object: Bull Board's
 * handler hooks see that same object (@bull-board/fastify passes `request.headers` through), not the request.
 */
export const boardIdentities = new WeakMap<object, BoardIdentity>();

/** Verified Basic credentials, so a page's dozens of requests pay for scrypt once: keyed by an HMAC under a per-process key. */
const VERIFIED_TTL_MS = 10 * 60_000;
const VERIFIED_MAX = 1_000;

export class BoardAccountBook {
  private readonly users: ReadonlyMap<string, HubUser>;
  private readonly verified = new Map<string, { hash: string; until: number }>();
  private readonly cacheKey = randomBytes(32);
  /** Checked when a name is unknown, so a missing name costs what a wrong password does. */
  private decoy: Promise<string> | null = null;
  private readonly proxies: BlockList;

  constructor(private readonly accounts: BoardAccounts, trustedProxies: readonly string[]) {
    this.users = new Map(accounts.users.map((u) => [u.name, u]));
    this.proxies = addressList(trustedProxies);
  }

  /** Whether checking these credentials runs scrypt: a throttled name is then refused before the work. */
  needsHashing(header: string | undefined): boolean {
    const credentials = basicCredentials(header);
    if (!credentials) return false;
    const user = this.users.get(credentials.username);
    return user !== undefined && !this.isCached(credentials.username, credentials.password, user.hash);
  }

  /** The identity of HTTP Basic credentials (the env admin, the env viewer, or a user of HUB_USERS_FILE), or null. */
  async forBasic(header: string | undefined): Promise<BoardIdentity | null> {
    const credentials = basicCredentials(header);
    if (!credentials) return null;
    const { username, password } = credentials;
    // Both env accounts are always compared, whole: no early exit on a wrong name.
    const admin = matches(username, password, this.accounts.admin);
    const viewer = this.accounts.viewer !== null && matches(username, password, this.accounts.viewer);
    if (admin) return { name: username, role: 'admin', via: 'password' };
    if (viewer) return { name: username, role: 'viewer', via: 'password' };
    const user = this.users.get(username);
    if (!user) {
      this.decoy ??= hashPassword(randomBytes(16).toString('hex'), DEFAULT_SCRYPT_PARAMS);
      await verifyPassword(password, await this.decoy);
      return null;
    }
    if (!this.isCached(username, password, user.hash)) {
      if (!(await verifyPassword(password, user.hash))) return null;
      this.remember(username, password, user.hash);
    }
    return { name: user.name, role: user.role, via: 'password' };
  }

  /**
   * The identity the single sign-on header gives, when the request's peer (the socket's address, not
   * X-Forwarded-For, which any client can write) is a trusted proxy. `undefined`: the header does not
   * apply (not configured, absent, or from another address), so Basic auth decides; null: a name with no role.
   */
  forProxyHeader(headers: IncomingHttpHeaders, peer: string | undefined): BoardIdentity | null | undefined {
    const trusted = this.accounts.trustedUser;
    const name = this.proxyName(headers, peer);
    if (!trusted || name === undefined) return undefined;
    const role = trusted.roles.get(name) ?? trusted.roles.get('*');
    return role ? { name, role, via: 'proxy' } : null;
  }

  /** The name the single sign-on header gives, when it comes from a trusted proxy; a refused request is audited under it. */
  proxyName(headers: IncomingHttpHeaders, peer: string | undefined): string | undefined {
    const trusted = this.accounts.trustedUser;
    if (!trusted || !peer || !isInList(this.proxies, peer)) return undefined;
    const value = headers[trusted.header];
    return (Array.isArray(value) ? value[0] : value)?.trim() || undefined;
  }

  private digest(username: string, password: string): string {
    return createHmac('sha256', this.cacheKey).update(`${username}\0${password}`).digest('hex');
  }

  private isCached(username: string, password: string, hash: string): boolean {
    const entry = this.verified.get(this.digest(username, password));
    return entry !== undefined && entry.hash === hash && entry.until > Date.now();
  }

  private remember(username: string, password: string, hash: string): void {
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    this.verified.set(this.digest(username, password), { hash, until: Date.now() + VERIFIED_TTL_MS });
  }
}

function matches(username: string, password: string, account: { username: string; password: string }): boolean {
  const user = secretsEqual(username, account.username);
  const pass = secretsEqual(password, account.password);
  return user && pass;
}

/** An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) is its IPv4 address. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** HUB_TRUSTED_PROXIES (addresses and CIDR blocks, v4 and v6) as one list. */
export function addressList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', bits] = entry.split('/');
    const plain = plainAddress(address);
    const family = isIPv4(plain) ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(plain, family);
    else list.addSubnet(plain, Number(bits), family);
  }
  return list;
}

export function isInList(list: BlockList, address: string): boolean {
  const plain = plainAddress(address);
  if (isIPv4(plain)) return list.check(plain, 'ipv4');
  return isIPv6(plain) && list.check(plain, 'ipv6');
}
