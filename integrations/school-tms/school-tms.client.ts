/**
 * The school system (ZYEDU_TMS): schools, and students with their guardians, read as feeds ordered
 * by `(updated_at, id)`. The API is ours (PROTOCOLS.md, "The third-party school system"): OAuth
 * client credentials, keyset paging with `next`, deletions as records with `deleted: true`.
 */

/** The `third_code` of every row this system feeds. */
export const ZYEDU_TMS = 'ZYEDU_TMS';

/** Where a feed page starts: records strictly after `(updatedAfter, afterId)`, or at/after `updatedAfter` without an id. */
export interface FeedPosition {
  /** ISO 8601, UTC, milliseconds. */
  updatedAfter: string;
  afterId?: string;
}

export interface FeedPage<T> {
  items: T[];
  /** The position after the last item; null when this page is the last one. */
  next: FeedPosition | null;
}

export interface School {
  /** Digits: `feeder_school.third_id` is a bigint. */
  id: string;
  name: string;
  province: string | null;
  city: string | null;
  address: string | null;
  /** 1 open, 0 closed (the system's own values). */
  status: number;
  /** Who last changed the school at the source (`third_modify_id`, `third_modify_name`). */
  modifyId: string | null;
  modifyName: string | null;
  updatedAt: string;
  deleted: boolean;
}

export interface Guardian {
  id: string;
  name: string | null;
  mobile: string | null;
  /** FATHER, MOTHER, … as the system says it. */
  relation: string | null;
}

export interface Student {
  id: string;
  name: string;
  /** 0 girl, 1 boy; null when unknown. */
  sex: number | null;
  /** `YYYY-MM-DD`. */
  birthday: string | null;
  schoolName: string | null;
  gradeName: string | null;
  guardians: Guardian[];
  updatedAt: string;
  deleted: boolean;
}

/** One guardian, by the mobile or by the system's parent id. */
export type ParentKey = { mobile: string } | { parentId: string };

export interface SchoolTmsClient {
  schools(from: FeedPosition, limit: number): Promise<FeedPage<School>>;
  students(from: FeedPosition, limit: number): Promise<FeedPage<Student>>;
  /** Every student linked to the guardian now (deleted ones are not linked). */
  studentsOfParent(parent: ParentKey): Promise<Student[]>;
}

/** The start of time for a first run. */
export const FEED_START: FeedPosition = { updatedAfter: new Date(0).toISOString() };

/** Ids are digit strings of any length: numeric order without going through a JS number. */
export function compareIds(a: string, b: string): number {
  if (a.length !== b.length && /^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders two positions as the feed does; a position without an id comes before every id of its instant. */
export function comparePositions(a: FeedPosition, b: FeedPosition): number {
  const t = Date.parse(a.updatedAfter) - Date.parse(b.updatedAfter);
  if (t !== 0) return t;
  if (a.afterId === undefined || b.afterId === undefined) return (a.afterId === undefined ? 0 : 1) - (b.afterId === undefined ? 0 : 1);
  return compareIds(a.afterId, b.afterId);
}
