/**
 * Beijing time (UTC+8, no daylight saving) as the seeds' systems write it. Dates and "today" are
 * Beijing calendar days; SQL never calls NOW(): the time is `ctx.now()` passed as a parameter.
 */
const BEIJING_OFFSET_MS = 8 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

function beijingParts(at: Date): { y: string; mo: string; d: string; h: string; mi: string; s: string } {
  const iso = new Date(at.getTime() + BEIJING_OFFSET_MS).toISOString();
  return { y: iso.slice(0, 4), mo: iso.slice(5, 7), d: iso.slice(8, 10), h: iso.slice(11, 13), mi: iso.slice(14, 16), s: iso.slice(17, 19) };
}

/** The Beijing calendar date, `YYYY-MM-DD`. */
export function beijingDate(at: Date): string {
  const p = beijingParts(at);
  return `${p.y}-${p.mo}-${p.d}`;
}

/** `YYYY-MM-DD HH:mm:ss` in Beijing time, as DATETIME columns hold it. */
export function formatBeijing(at: Date): string {
  const p = beijingParts(at);
  return `${p.y}-${p.mo}-${p.d} ${p.h}:${p.mi}:${p.s}`;
}

/** `yyyyMMddHHmm` in Beijing time, `yyyyMMddHHmmss` with seconds: the slot part of cron job ids. */
export function beijingSlot(at: Date, withSeconds = false): string {
  const p = beijingParts(at);
  return `${p.y}${p.mo}${p.d}${p.h}${p.mi}${withSeconds ? p.s : ''}`;
}

/** Parses `YYYY-MM-DD[ HH:mm[:ss]]` (or with `T`) read as Beijing time. */
export function parseBeijing(text: string): Date {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (!m) throw new RangeError(`not a Beijing date-time: ${JSON.stringify(text)}`);
  const [, y, mo, d, h = '00', mi = '00', s = '00'] = m;
  const utc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const result = new Date(utc - BEIJING_OFFSET_MS);
  if (beijingDate(result) !== `${y}-${mo}-${d}`) throw new RangeError(`no such date: ${text}`);
  return result;
}

/** An RFC 3339 timestamp (WeChat's `2026-11-23T10:00:00+08:00`) to an instant; null when absent or unreadable. */
export function parseRfc3339(value: string | undefined): Date | null {
  if (!value) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}

/** The half-open instant range [start, end) of a Beijing calendar day. */
export function beijingDayRange(date: string): { start: Date; end: Date } {
  const start = parseBeijing(date);
  return { start, end: new Date(start.getTime() + DAY_MS) };
}

/** The Beijing date before `date` (`YYYY-MM-DD`), e.g. yesterday's bill date. */
export function previousBeijingDate(date: string): string {
  return beijingDate(new Date(parseBeijing(date).getTime() - DAY_MS));
}
