/**
 * The `appAccountToken` the app passes to StoreKit at purchase: a UUID carrying the user's `uid`
 * (the app DDL gives `user` no column for one), so a notification names its user without a lookup
 * table. The app builds it with the same rule: `00000000-0000-4000-8000-` + uid as 12 hex digits.
 */
const PREFIX = '00000000-0000-4000-8000-';
const TOKEN = /^00000000-0000-4000-8000-([0-9a-f]{12})$/i;
const MAX_UID = 0xffff_ffff;

export function appAccountTokenForUid(uid: number): string {
  if (!Number.isInteger(uid) || uid <= 0 || uid > MAX_UID) throw new RangeError(`uid ${uid} is no user id`);
  return `${PREFIX}${uid.toString(16).padStart(12, '0')}`;
}

/** The uid a token names, or null for a token of another shape (a purchase made outside the app's rule). */
export function uidOfAppAccountToken(token: string | null | undefined): number | null {
  const hex = token ? TOKEN.exec(token)?.[1] : undefined;
  if (!hex) return null;
  const uid = Number.parseInt(hex, 16);
  return uid > 0 && uid <= MAX_UID ? uid : null;
}
