import { setTimeout as delay } from 'node:timers/promises';
import { DROP_CONNECTION, EmulatorServer, type EmulatorAnswer, type EmulatorRequest } from '../../emulator-server';
import {
  Feed,
  generatedStudent,
  newToken,
  SchoolVendorError,
  type IssuedToken,
  type SchoolFault,
  type SchoolRecord,
  type SchoolRoute,
  type StudentRecord,
} from './school-tms.emulator-state';

export type { SchoolFault, SchoolRecord, SchoolRoute, StudentRecord } from './school-tms.emulator-state';
export { familyOf, guardiansOfFamily, GENERATED_STUDENT_BASE } from './school-tms.emulator-state';

/**
 * A local ZYEDU_TMS: `POST /oauth/token` (client credentials), `GET /api/schools` and
 * `GET /api/students` (keyset feeds by `(updated_at, id)`, or a guardian's students), with records
 * that change over time (every change stamps `updated_at` with the emulator's clock; deletions stay
 * in the feed with `deleted: true`), tokens that lapse on demand, and injected failures.
 */

export interface SchoolEmulatorOptions {
  now?: () => Date;
  /** `expires_in` of a new token; default two hours. */
  tokenTtlSeconds?: number;
}

const ROUTES: Readonly<Record<string, Exclude<SchoolRoute, 'any'>>> = { '/oauth/token': 'token', '/api/schools': 'schools', '/api/students': 'students' };
const MAX_LIMIT = 500;

type Pending = { fault: SchoolFault; route: SchoolRoute; skip: number; times: number };

export class SchoolTmsEmulator {
  private server?: EmulatorServer;
  readonly schools = new Feed<SchoolRecord>();
  readonly students = new Feed<StudentRecord>();
  private readonly clients = new Map<string, string>();
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly faults: Pending[] = [];
  private readonly requests = new Map<SchoolRoute, number>();
  /** Aborted by stop(): answers held back by a timeout fault are dropped at once. */
  private readonly stopping = new AbortController();
  private readonly hooks: { route: SchoolRoute; skip: number; action: () => void }[] = [];
  private readonly now: () => Date;
  private readonly ttlMs: number;

  private constructor(options: SchoolEmulatorOptions) {
    this.now = options.now ?? (() => new Date());
    this.ttlMs = (options.tokenTtlSeconds ?? 7_200) * 1_000;
  }

  static async start(options: SchoolEmulatorOptions = {}): Promise<SchoolTmsEmulator> {
    const emulator = new SchoolTmsEmulator(options);
    emulator.server = await EmulatorServer.start((request) => emulator.handle(request));
    return emulator;
  }

  get baseUrl(): string {
    return this.server?.baseUrl ?? '';
  }

  addClient(clientId: string, secret: string): void {
    this.clients.set(clientId, secret);
  }

  /** Inserts or changes a school; `updated_at` is now unless given (a late commit carries an older one). */
  putSchool(school: Omit<SchoolRecord, 'updatedAt' | 'deleted'> & { deleted?: boolean }, updatedAt?: Date): SchoolRecord {
    return this.schools.put({ deleted: false, ...school, updatedAt: (updatedAt ?? this.now()).getTime() });
  }

  /** Changes fields of a school, stamping it now. */
  changeSchool(id: string, change: Partial<Omit<SchoolRecord, 'id' | 'updatedAt'>>): SchoolRecord {
    const school = this.schools.get(id);
    if (!school) throw new Error(`emulator: no school ${id}`);
    return this.schools.put({ ...school, ...change, updatedAt: this.now().getTime() });
  }

  putStudent(student: Omit<StudentRecord, 'updatedAt' | 'deleted'> & { deleted?: boolean }, updatedAt?: Date): StudentRecord {
    return this.students.put({ deleted: false, ...student, updatedAt: (updatedAt ?? this.now()).getTime() });
  }

  changeStudent(id: string, change: Partial<Omit<StudentRecord, 'id' | 'updatedAt'>>): StudentRecord {
    const student = this.students.get(id);
    if (!student) throw new Error(`emulator: no student ${id}`);
    return this.students.put({ ...student, ...change, updatedAt: this.now().getTime() });
  }

  /**
   * `count` generated students (ids from GENERATED_STUDENT_BASE + `first`), their `updated_at`
   * spread evenly over [from, to], in families that share guardians (familyOf, guardiansOfFamily).
   */
  generateStudents(count: number, o: { first?: number; from: Date; to: Date; schoolNames?: readonly string[] }): void {
    const first = o.first ?? 0;
    const span = o.to.getTime() - o.from.getTime();
    for (let i = 0; i < count; i++) {
      this.students.put(generatedStudent(first + i, o.from.getTime() + Math.floor((span * i) / Math.max(1, count - 1)), o.schoolNames ?? []));
    }
  }

  /** Every `every`-th student changes grade now: a slice of the feed for an incremental run to pick up. */
  touchStudents(every: number): number {
    let changed = 0;
    let i = 0;
    const stamp = this.now().getTime();
    for (const s of [...this.students.all()]) {
      if (i++ % every !== 0 || s.deleted) continue;
      this.students.put({ ...s, gradeName: `${s.gradeName ?? ''}+`, updatedAt: stamp });
      changed += 1;
    }
    return changed;
  }

  /** Forgets every school, student and pending fault: a test starts from an empty system. */
  clear(): void {
    this.schools.clear();
    this.students.clear();
    this.faults.length = 0;
    this.hooks.length = 0;
  }

  /** Runs `action` (a change at the source) just before the request after `skip` more requests to `route` is answered. */
  whenRequested(route: SchoolRoute, skip: number, action: () => void): void {
    this.hooks.push({ route, skip, action });
  }

  /** Every token issued so far lapses now (the next call with one answers 401). */
  expireTokens(): void {
    const nowMs = this.now().getTime();
    for (const t of this.tokens.values()) t.expiresAt = Math.min(t.expiresAt, nowMs);
  }

  tokensIssued(): number {
    return this.tokens.size;
  }

  /**
   * The next `times` (default 1) requests to `route` (default any) fail as `fault`, after `skip`
   * (default 0) of them have passed: `skip: 2` on `students` fails the third page.
   */
  inject(fault: SchoolFault, o: { route?: SchoolRoute; times?: number; skip?: number } = {}): void {
    this.faults.push({ fault, route: o.route ?? 'any', skip: o.skip ?? 0, times: o.times ?? 1 });
  }

  /** Requests received on a route (failed ones too); `any` counts them all. */
  calls(route: SchoolRoute): number {
    return this.requests.get(route) ?? 0;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.server?.stop();
  }

  private takeFault(route: Exclude<SchoolRoute, 'any'>): SchoolFault | undefined {
    let found: SchoolFault | undefined;
    for (let i = 0; i < this.faults.length; i++) {
      const f = this.faults[i] as Pending;
      if (f.route !== route && f.route !== 'any') continue;
      if (f.skip > 0) {
        f.skip -= 1;
        continue;
      }
      if (found) continue;
      found = f.fault;
      f.times -= 1;
      if (f.times <= 0) this.faults.splice(i--, 1);
    }
    return found;
  }

  private async handle(request: EmulatorRequest): Promise<EmulatorAnswer | typeof DROP_CONNECTION> {
    const { url } = request;
    const route = ROUTES[url.pathname];
    if (!route) return { status: 404, headers: { 'Content-Type': 'application/json' }, body: '{"error":"not_found"}' };
    for (const counted of [route, 'any'] as const) this.requests.set(counted, (this.requests.get(counted) ?? 0) + 1);
    const fault = this.takeFault(route);
    for (const hook of this.hooks.filter((h) => h.route === route || h.route === 'any')) {
      if (hook.skip-- > 0) continue;
      this.hooks.splice(this.hooks.indexOf(hook), 1);
      hook.action();
    }
    if (fault?.kind === 'http') return { status: fault.status, headers: { 'Content-Type': 'text/html' }, body: `<html><body><h1>${fault.status}</h1></body></html>` };
    if (fault?.kind === 'rate-limit') {
      return { status: 429, headers: { 'Content-Type': 'application/json', 'Retry-After': String(fault.retryAfterSeconds) }, body: '{"error":"too_many_requests"}' };
    }
    if (fault?.kind === 'expire-token') this.expireTokens();
    let status = 200;
    let headers: Record<string, string> = {};
    let answer: object;
    try {
      answer = route === 'token' ? this.grant(request) : this.read(route, request);
    } catch (err) {
      if (!(err instanceof SchoolVendorError)) throw err;
      status = err.status;
      headers = err.headers;
      answer = { error: err.error };
    }
    if (fault?.kind === 'timeout') {
      // The work is done, only the answer is late; a client that gave up has closed the socket, and the
      // server writes nothing to a closed one.
      const late = await delay(fault.ms, true, { signal: this.stopping.signal }).catch(() => false);
      if (!late) return DROP_CONNECTION;
    }
    return { status, headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(answer) };
  }

  /** RFC 6749 §4.4: the client authenticates by HTTP Basic or by form fields. */
  private grant(request: EmulatorRequest): object {
    if (request.method !== 'POST') throw new SchoolVendorError(405, 'method_not_allowed');
    const form = new URLSearchParams(request.body.toString('utf8'));
    const basic = /^Basic (.+)$/i.exec(request.headers.authorization ?? '');
    const [basicId, basicSecret] = basic?.[1] ? Buffer.from(basic[1], 'base64').toString('utf8').split(':') : [];
    if (form.get('grant_type') !== 'client_credentials') throw new SchoolVendorError(400, 'unsupported_grant_type');
    const clientId = basicId ?? form.get('client_id') ?? '';
    const secret = basicSecret ?? form.get('client_secret') ?? '';
    if (!this.clients.has(clientId) || this.clients.get(clientId) !== secret) throw new SchoolVendorError(401, 'invalid_client');
    const issued = newToken(clientId, this.ttlMs, this.now().getTime());
    this.tokens.set(issued.token, issued);
    return { access_token: issued.token, token_type: 'Bearer', expires_in: Math.floor(this.ttlMs / 1_000) };
  }

  private read(route: 'schools' | 'students', request: EmulatorRequest): object {
    if (request.method !== 'GET') throw new SchoolVendorError(405, 'method_not_allowed');
    const bearer = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '')?.[1];
    const token = bearer ? this.tokens.get(bearer) : undefined;
    if (!token || token.expiresAt <= this.now().getTime()) throw new SchoolVendorError(401, 'invalid_token', { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
    const q = request.url.searchParams;
    if (route === 'students' && (q.has('parent_mobile') || q.has('parent_id'))) {
      const mobile = q.get('parent_mobile');
      const parentId = q.get('parent_id');
      const items = [...this.students.all()].filter((s) => !s.deleted && s.guardians.some((g) => (mobile !== null && g.mobile === mobile) || (parentId !== null && g.id === parentId)));
      return { items: items.map(studentWire), next: null };
    }
    const after = Date.parse(q.get('updated_after') ?? '');
    const limit = Number(q.get('limit') ?? '100');
    if (Number.isNaN(after)) throw new SchoolVendorError(400, 'invalid_updated_after');
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new SchoolVendorError(400, 'invalid_limit');
    const afterId = q.get('after_id') ?? undefined;
    if (route === 'schools') return paged(this.schools.page(after, afterId, limit), schoolWire);
    return paged(this.students.page(after, afterId, limit), studentWire);
  }
}

function paged<T extends { id: string; updatedAt: number }>(page: { items: T[]; more: boolean }, wire: (r: T) => object): object {
  const last = page.items.at(-1);
  return { items: page.items.map(wire), next: page.more && last ? { updated_after: new Date(last.updatedAt).toISOString(), after_id: last.id } : null };
}

function schoolWire(s: SchoolRecord): object {
  return {
    id: s.id, name: s.name, province: s.province, city: s.city, address: s.address, status: s.status,
    modify_id: s.modifyId, modify_name: s.modifyName, updated_at: new Date(s.updatedAt).toISOString(), deleted: s.deleted,
  };
}

function studentWire(s: StudentRecord): object {
  return {
    id: s.id, name: s.name, sex: s.sex, birthday: s.birthday, school_name: s.schoolName, grade_name: s.gradeName,
    guardians: s.guardians.map((g) => ({ id: g.id, name: g.name, mobile: g.mobile, relation: g.relation })),
    updated_at: new Date(s.updatedAt).toISOString(), deleted: s.deleted,
  };
}
