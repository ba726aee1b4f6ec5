import { randomBytes } from 'node:crypto';

/**
 * What the school-system emulator remembers: OAuth clients and tokens, and two feeds (schools,
 * students with guardians) kept in `(updated_at, id)` order. Ordering is written here on its own,
 * not borrowed from the client, so the two can disagree when one of them is wrong.
 */

export type SchoolRoute = 'token' | 'schools' | 'students' | 'any';

export type SchoolFault =
  | { kind: 'http'; status: number } // a gateway error page
  | { kind: 'rate-limit'; retryAfterSeconds: number } // 429 with Retry-After
  | { kind: 'expire-token' } // every token lapses just before this request is checked
  | { kind: 'timeout'; ms: number }; // the answer comes only after ms

export interface SchoolRecord {
  id: string;
  name: string;
  province: string | null;
  city: string | null;
  address: string | null;
  status: number;
  modifyId: string | null;
  modifyName: string | null;
  updatedAt: number;
  deleted: boolean;
}

export interface GuardianRecord {
  id: string;
  name: string | null;
  mobile: string | null;
  relation: string | null;
}

export interface StudentRecord {
  id: string;
  name: string;
  sex: number | null;
  birthday: string | null;
  schoolName: string | null;
  gradeName: string | null;
  guardians: GuardianRecord[];
  updatedAt: number;
  deleted: boolean;
}

export interface IssuedToken {
  token: string;
  clientId: string;
  expiresAt: number;
}

/** A 4xx/5xx the emulator answers as the system would. */
export class SchoolVendorError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(`${status} ${error}`);
  }
}

const byIdDigits = (a: string, b: string): number => (a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0);

/** Records by id, listed in `(updatedAt, id)` order; re-sorted only after a change. */
export class Feed<T extends { id: string; updatedAt: number }> {
  private readonly byId = new Map<string, T>();
  private sorted: T[] = [];
  private dirty = false;

  get size(): number {
    return this.byId.size;
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  put(record: T): T {
    this.byId.set(record.id, record);
    this.dirty = true;
    return record;
  }

  all(): IterableIterator<T> {
    return this.byId.values();
  }

  clear(): void {
    this.byId.clear();
    this.sorted = [];
    this.dirty = false;
  }

  /** Records after the position: `updatedAt >= after` without an id, `(updatedAt, id) > (after, afterId)` with one. */
  page(after: number, afterId: string | undefined, limit: number): { items: T[]; more: boolean } {
    if (this.dirty) {
      this.sorted = [...this.byId.values()].sort((a, b) => a.updatedAt - b.updatedAt || byIdDigits(a.id, b.id));
      this.dirty = false;
    }
    const beyond = (r: T): boolean => r.updatedAt > after || (r.updatedAt === after && afterId !== undefined && byIdDigits(r.id, afterId) > 0) || (r.updatedAt === after && afterId === undefined);
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (beyond(this.sorted[mid] as T)) hi = mid;
      else lo = mid + 1;
    }
    return { items: this.sorted.slice(lo, lo + limit), more: lo + limit < this.sorted.length };
  }
}

export function newToken(clientId: string, ttlMs: number, nowMs: number): IssuedToken {
  return { token: `tms_${randomBytes(24).toString('base64url')}`, clientId, expiresAt: nowMs + ttlMs };
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Generated students come in families: students 4k and 4k+1 are siblings; the others are only children. */
export function familyOf(student: number): number {
  return student % 4 === 1 ? student - 1 : student;
}

/** A family's guardians: a mother always, a father in even families (ids and mobiles derived from the family). */
export function guardiansOfFamily(family: number): GuardianRecord[] {
  const mother: GuardianRecord = { id: String(7_000_000_000 + family), name: `家长${family}`, mobile: `139${pad(family, 8)}`, relation: 'MOTHER' };
  if (family % 2 === 1) return [mother];
  return [mother, { id: String(8_000_000_000 + family), name: `家长${family}父`, mobile: `138${pad(family, 8)}`, relation: 'FATHER' }];
}

export const GENERATED_STUDENT_BASE = 100_000_000;

/** Student `i` of the generator, stamped `updatedAt`. */
export function generatedStudent(i: number, updatedAt: number, schoolNames: readonly string[]): StudentRecord {
  return {
    id: String(GENERATED_STUDENT_BASE + i),
    name: `学生${i}`,
    sex: i % 2,
    birthday: `20${pad(10 + (i % 8), 2)}-${pad(1 + (i % 12), 2)}-${pad(1 + (i % 28), 2)}`,
    schoolName: schoolNames.length ? (schoolNames[i % schoolNames.length] as string) : null,
    gradeName: `${1 + (i % 6)}年级`,
    guardians: guardiansOfFamily(familyOf(i)),
    updatedAt,
    deleted: false,
  };
}
