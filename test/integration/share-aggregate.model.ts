/**
 * An independent model of the share counters (docs/marketing.md), row by row in plain TypeScript, and a seeded
 * generator of share data: the tests compare the set-based SQL with it.
 */

export interface MemberRow {
  id: string;
  createdTime: Date | null;
  saveInfoTime: Date | null;
}

export interface ChildInfoRow {
  id: string;
  childMemberId: string;
  memberId: string;
  resourceId: string;
}

export interface TrackingRow {
  id: string;
  memberId: string | null;
  resourceType: string | null;
  resourceId: string | null;
  type: 'SHARE' | 'REACH' | null;
  fromMemberIds: string | null;
  depth: number | null;
  browseTime: Date | null;
  createdTime: Date | null;
}

export interface Snapshot {
  members: Record<string, string | number>[];
  childInfos: Record<string, string | number>[];
  resources: Record<string, string | number>[];
}

const TEN_MINUTES = 10 * 60_000;

function lastSharer(from: string | null): string | null {
  const last = (from ?? '').split(',').pop()?.trim() ?? '';
  return /^[0-9]{1,18}$/.test(last) ? String(BigInt(last)) : null;
}

/** Rows the counters use: somebody acted, on a resource, by SHARE or REACH. */
export const isUsable = (r: Omit<TrackingRow, 'id'>): boolean => Boolean(r.memberId && r.resourceType && r.resourceId && (r.type === 'SHARE' || r.type === 'REACH'));
export const usableCount = (rows: Omit<TrackingRow, 'id'>[]): number => rows.filter(isUsable).length;

export function expectedCounters(members: MemberRow[], childInfos: ChildInfoRow[], rows: TrackingRow[]): Snapshot {
  const member = new Map(members.map((m) => [m.id, { ...m, share: 0, open: 0, total: 0, uv: 0, saved: 0 }]));
  const child = childInfos.map((c) => ({ ...c, share: 0, open: 0, children: 0, saved: 0 }));
  const resources = new Map<string, { type: string; resource_id: string; share: number; reach: number; uv: number; depth: number }>();
  const firstReach = new Set<string>();
  const referrals: { sharer: string; visitor: string; resourceId: string }[] = [];
  const referralKeys = new Set<string>();
  for (const r of [...rows].sort((a, b) => Number(BigInt(a.id) - BigInt(b.id)))) {
    if (!isUsable(r) || !r.memberId || !r.resourceType || !r.resourceId) continue;
    const key = `${r.resourceType}\u0000${r.resourceId}`;
    const res = resources.get(key) ?? { type: r.resourceType, resource_id: r.resourceId, share: 0, reach: 0, uv: 0, depth: 0 };
    resources.set(key, res);
    const actor = member.get(r.memberId);
    const own = child.filter((c) => c.childMemberId === r.memberId && c.resourceId === r.resourceId);
    if (r.type === 'SHARE') {
      if (actor) actor.share += 1;
      res.share += 1;
      for (const c of own) c.share += 1;
      continue;
    }
    if (actor) actor.open += 1;
    res.reach += 1;
    res.depth = Math.max(res.depth, r.depth ?? 0);
    for (const c of own) c.open += 1;
    if (!firstReach.has(`${key}\u0000${r.memberId}`)) {
      firstReach.add(`${key}\u0000${r.memberId}`);
      res.uv += 1;
    }
    const sharer = lastSharer(r.fromMemberIds);
    if (sharer === null || referralKeys.has(`${key}\u0000${r.memberId}\u0000${sharer}`)) continue;
    referralKeys.add(`${key}\u0000${r.memberId}\u0000${sharer}`);
    referrals.push({ sharer, visitor: r.memberId, resourceId: r.resourceId });
    const s = member.get(sharer);
    const browse = r.browseTime ?? r.createdTime;
    if (s) {
      s.total += 1;
      if (actor?.createdTime && browse && actor.createdTime.getTime() >= browse.getTime() - TEN_MINUTES) s.uv += 1;
    }
    for (const c of child.filter((c) => c.childMemberId === sharer && c.resourceId === r.resourceId)) c.children += 1;
  }
  const savedVisitors = (list: typeof referrals): number => new Set(list.filter((f) => member.get(f.visitor)?.saveInfoTime).map((f) => f.visitor)).size;
  for (const m of member.values()) m.saved = savedVisitors(referrals.filter((f) => f.sharer === m.id));
  for (const c of child) c.saved = savedVisitors(referrals.filter((f) => f.sharer === c.childMemberId && f.resourceId === c.resourceId));
  const byId = <T extends { id: string }>(a: T, b: T): number => Number(BigInt(a.id) - BigInt(b.id));
  return {
    members: [...member.values()].sort(byId).map(({ id, share, open, total, uv, saved }) => ({ id, share, open, total, uv, saved })),
    childInfos: child.sort(byId).map(({ id, share, open, children, saved }) => ({ id, share, open, children, saved })),
    resources: [...resources.values()]
      .filter((r) => r.share + r.reach > 0)
      .sort((a, b) => (a.type === b.type ? (a.resource_id < b.resource_id ? -1 : 1) : a.type < b.type ? -1 : 1)),
  };
}

/** mulberry32: the same data for the same seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface ShareData {
  members: MemberRow[];
  childInfos: ChildInfoRow[];
  tracking: Omit<TrackingRow, 'id'>[];
  /** Rows the counters skip (nobody acted). */
  unusable: number;
}

/** Members, relation rows and share_tracking rows (all older than the default lag at `now`), some of them odd on purpose. */
export function randomShareData(seed: number, now: Date, size: { members: number; resources: number; rows: number }): ShareData {
  const rnd = random(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const secondsAgo = (max: number): Date => new Date(now.getTime() - (int(max) + 300) * 1_000);
  const memberId = (): string => String(1 + int(size.members + 5)); // a few ids name no member
  const resourceId = (): string => `r${1 + int(size.resources)}`;
  const members = Array.from({ length: size.members }, (_, i) => ({
    id: String(i + 1),
    createdTime: rnd() < 0.05 ? null : secondsAgo(2 * 86_400),
    saveInfoTime: rnd() < 0.3 ? secondsAgo(3_600) : null,
  }));
  const childInfos = Array.from({ length: Math.round(size.members * 1.5) }, (_, i) => ({ id: String(i + 1), childMemberId: memberId(), memberId: memberId(), resourceId: resourceId() }));
  let unusable = 0;
  const tracking = Array.from({ length: size.rows }, () => {
    const chain = Array.from({ length: int(4) }, memberId);
    const odd = rnd();
    const actor = odd < 0.02 ? null : memberId();
    if (actor === null) unusable += 1;
    return {
      memberId: actor,
      resourceType: rnd() < 0.8 ? 'ARTICLE' : 'EVENT',
      resourceId: resourceId(),
      type: rnd() < 0.3 ? ('SHARE' as const) : ('REACH' as const),
      fromMemberIds: odd > 0.97 ? 'x' : chain.length ? chain.join(',') : null,
      depth: odd > 0.95 ? null : chain.length,
      browseTime: rnd() < 0.05 ? null : secondsAgo(2 * 86_400),
      createdTime: secondsAgo(3_600),
    };
  });
  return { members, childInfos, tracking, unusable };
}
