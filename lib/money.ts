/**
 * Money is integer fen (分) everywhere. Vendors that speak yuan (bills, some APIs) are converted
 * here, by string arithmetic, never through floating point.
 */
export type Fen = number;

const YUAN = /^(-)?(\d+)(?:\.(\d{1,2}))?$/;

/** "12.3" → 1230, "-0.01" → -1. Rejects more than two decimals or anything not a plain amount. */
export function yuanToFen(yuan: string): Fen {
  const match = YUAN.exec(yuan.trim());
  if (!match) throw new RangeError(`not a yuan amount: ${JSON.stringify(yuan)}`);
  const [, sign, whole = '0', decimals = ''] = match;
  const fen = Number(whole) * 100 + Number(decimals.padEnd(2, '0'));
  assertFen(fen);
  return sign ? -fen : fen;
}

/** 1230 → "12.30". */
export function fenToYuan(fen: Fen): string {
  assertFen(fen);
  const abs = Math.abs(fen);
  return `${fen < 0 ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

export function assertFen(value: number): asserts value is Fen {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a whole number of fen: ${value}`);
}
