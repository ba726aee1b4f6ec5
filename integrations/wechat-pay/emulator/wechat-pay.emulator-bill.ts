import { createHash, randomBytes } from 'node:crypto';
import { pipeline as streamPipeline, Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { fenToYuan } from '../../../lib/money';
import { beijingDate, parseBeijing } from '../../../lib/time';
import type { EmulatedOrder, SyntheticDay } from './wechat-pay.emulator-state';

/**
 * The trade bill (对账单) as WeChat writes it: UTF-8 BOM, CRLF, a plain header line, data cells each
 * prefixed with a back-tick, a summary header and one back-ticked summary line, trailing CRLF.
 * Generated row by row, in chunks, from a snapshot of the merchant's rows of one Beijing day plus its
 * synthetic orders (computed, never stored), so a million-row bill costs the memory of one chunk and
 * the same snapshot always gives the same bytes (the announced SHA1 matches the download).
 */

const HEADER_24 =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率';
const HEADER_27 = `${HEADER_24},订单金额,申请退款金额,费率备注`;
const SUMMARY_24 = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额';
const SUMMARY_27 = `${SUMMARY_24},订单总金额,申请退款总金额`;
const BOM = '\ufeff';
const CRLF = '\r\n';
/** Lines per chunk: big enough to keep the per-chunk overhead small, small enough to keep memory flat. */
const LINES_PER_CHUNK = 512;
const DAY_SECONDS = 86_400;

export type BillKind = 'ALL' | 'SUCCESS' | 'REFUND';

/** One bill line, payment or refund; amounts in fen. */
export interface BillRow {
  /** `YYYY-MM-DD HH:mm:ss` Beijing. */
  time: string;
  kind: 'payment' | 'refund';
  transactionId: string;
  outTradeNo: string;
  openid: string;
  description: string;
  total: number;
  refundId?: string;
  outRefundNo?: string;
  refund?: number;
}

export interface BillSpec {
  mchid: string;
  appid: string;
  columns: 24 | 27;
  billType: BillKind;
  /** Stored orders' rows of the day, sorted, copied when the bill was applied for. */
  rows: readonly BillRow[];
  synthetic: readonly SyntheticDay[];
  date: string;
}

/** `2026-03-01T12:00:00+08:00` → `2026-03-01 12:00:00`: WeChat's success_time is already Beijing time. */
function billTime(rfc3339: string): string {
  return `${rfc3339.slice(0, 10)} ${rfc3339.slice(11, 19)}`;
}

export function openidOf(outTradeNo: string): string {
  return `oEmu${createHash('sha1').update(outTradeNo).digest('base64url').slice(0, 24)}`;
}

/** The rows stored orders contribute to `date`: payments paid that day and refunds that succeeded that day. */
export function storedBillRows(orders: Iterable<EmulatedOrder>, mchid: string, date: string): BillRow[] {
  const rows: BillRow[] = [];
  for (const o of orders) {
    if (o.mchid !== mchid || !o.transaction_id || !o.success_time) continue;
    const base = { transactionId: o.transaction_id, outTradeNo: o.out_trade_no, openid: openidOf(o.out_trade_no), description: o.description, total: o.total };
    if (o.success_time.startsWith(date)) rows.push({ ...base, time: billTime(o.success_time), kind: 'payment' });
    for (const r of o.refunds) {
      if (r.status !== 'SUCCESS' || !r.success_time?.startsWith(date)) continue;
      rows.push({ ...base, time: billTime(r.success_time), kind: 'refund', refundId: r.refund_id, outRefundNo: r.out_refund_no, refund: r.refund });
    }
  }
  return rows.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

/**
 * The i-th synthetic order of a day: deterministic, so a benchmark can insert the same rows into its
 * own tables while the emulator computes the bill without storing a single one of them.
 */
export function syntheticOrder(prefix: string, date: string, i: number): { out_trade_no: string; transaction_id: string; total: number; success_time: Date } {
  const offset = syntheticOffsetSeconds(i);
  return {
    out_trade_no: `${prefix}${String(i).padStart(10, '0')}`,
    transaction_id: `4200${date.replace(/-/g, '')}${String(i).padStart(16, '0')}`,
    total: 100 + ((i * 7919) % 99_900),
    success_time: new Date(parseBeijing(date).getTime() + offset * 1000),
  };
}

/** Seconds after Beijing midnight: 37 is prime to 86,400, so any run of orders covers the whole day. */
function syntheticOffsetSeconds(i: number): number {
  return (i * 37) % DAY_SECONDS;
}

function clock(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return `${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:${s < 10 ? '0' : ''}${s}`;
}

/** 0.6 % rounded half up to the fen (what WeChat deducts), in fen. Integers only. */
export function feeFen(amount: number): number {
  return Math.floor((amount * 6 + 500) / 1000);
}

/** 手续费 is written with five decimals. */
function fee5(fen: number): string {
  return `${fenToYuan(fen)}000`;
}

/**
 * A free-text cell (商品名称): a parser splits cells on ",`", so that sequence must not occur inside a
 * value; a space keeps the comma and the back-tick. Line breaks would end the row: they become spaces.
 */
export function textCell(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').replace(/,`/g, ', `');
}

interface Totals {
  count: number;
  settle: number;
  refund: number;
  fee: number;
  order: number;
  applied: number;
}

function rowLine(spec: BillSpec, row: BillRow, totals: Totals): string {
  const head = `\`${row.time},\`${spec.appid},\`${spec.mchid},\`0,\`,\`${row.transactionId},\`${row.outTradeNo},\`${row.openid},\`JSAPI`;
  const description = textCell(row.description);
  totals.count += 1;
  if (row.kind === 'payment') {
    const fee = feeFen(row.total);
    const yuan = fenToYuan(row.total);
    totals.settle += row.total;
    totals.order += row.total;
    totals.fee += fee;
    const line = `${head},\`SUCCESS,\`OTHERS,\`CNY,\`${yuan},\`0.00,\`0,\`0,\`0.00,\`0.00,\`,\`,\`${description},\`,\`${fee5(fee)},\`0.60%`;
    return spec.columns === 27 ? `${line},\`${yuan},\`0.00,\`${CRLF}` : `${line}${CRLF}`;
  }
  const refund = row.refund ?? 0;
  const fee = -feeFen(refund);
  const yuan = fenToYuan(refund);
  totals.refund += refund;
  totals.applied += refund;
  totals.fee += fee;
  const line = `${head},\`REFUND,\`OTHERS,\`CNY,\`0.00,\`0.00,\`${row.refundId ?? ''},\`${row.outRefundNo ?? ''},\`${yuan},\`0.00,\`ORIGINAL,\`SUCCESS,\`${description},\`,\`${fee5(fee)},\`0.60%`;
  return spec.columns === 27 ? `${line},\`0.00,\`${yuan},\`${CRLF}` : `${line}${CRLF}`;
}

function* detailRows(spec: BillSpec): Generator<BillRow> {
  const wantPayments = spec.billType !== 'REFUND';
  const wantRefunds = spec.billType !== 'SUCCESS';
  for (const row of spec.rows) if (row.kind === 'payment' ? wantPayments : wantRefunds) yield row;
  if (!wantPayments) return;
  for (const day of spec.synthetic) {
    for (let i = 0; i < day.count; i += 1) {
      const outTradeNo = `${day.prefix}${String(i).padStart(10, '0')}`;
      yield {
        time: `${spec.date} ${clock(syntheticOffsetSeconds(i))}`,
        kind: 'payment',
        transactionId: `4200${spec.date.replace(/-/g, '')}${String(i).padStart(16, '0')}`,
        outTradeNo,
        openid: `oSyn${day.prefix}${i}`,
        description: `synthetic order ${i}`,
        total: 100 + ((i * 7919) % 99_900),
      };
    }
  }
}

/** Whether the day has anything to report (else NO_STATEMENT_EXIST). */
export function billHasRows(spec: BillSpec): boolean {
  return !detailRows(spec).next().done;
}

/** The bill's bytes, in chunks of a few hundred lines. */
export function* billChunks(spec: BillSpec): Generator<Buffer> {
  const totals: Totals = { count: 0, settle: 0, refund: 0, fee: 0, order: 0, applied: 0 };
  let pending = `${BOM}${spec.columns === 27 ? HEADER_27 : HEADER_24}${CRLF}`;
  let lines = 0;
  for (const row of detailRows(spec)) {
    pending += rowLine(spec, row, totals);
    lines += 1;
    if (lines === LINES_PER_CHUNK) {
      yield Buffer.from(pending, 'utf8');
      pending = '';
      lines = 0;
    }
  }
  const five = `\`${totals.count}.0,\`${fenToYuan(totals.settle)},\`${fenToYuan(totals.refund)},\`0.00,\`${fee5(totals.fee)}`;
  const summary = spec.columns === 27 ? `${five},\`${fenToYuan(totals.order)},\`${fenToYuan(totals.applied)}` : five;
  pending += `${spec.columns === 27 ? SUMMARY_27 : SUMMARY_24}${CRLF}${summary}${CRLF}`;
  yield Buffer.from(pending, 'utf8');
}

/** SHA1 and length of the uncompressed bill, by a first pass that keeps nothing but the hash state. */
export async function billDigest(spec: BillSpec): Promise<{ sha1: string; bytes: number }> {
  const hash = createHash('sha1');
  let bytes = 0;
  let sinceYield = 0;
  for (const chunk of billChunks(spec)) {
    hash.update(chunk);
    bytes += chunk.length;
    sinceYield += 1;
    // Hands the event loop back now and then: a million-row bill must not freeze the process hosting it.
    if (sinceYield >= 64) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  return { sha1: hash.digest('hex'), bytes };
}

/** The bill's chunks stopped after `limit` bytes (a download cut short). */
function* truncated(chunks: Iterable<Buffer>, limit: number): Generator<Buffer> {
  let sent = 0;
  for (const chunk of chunks) {
    if (sent + chunk.length >= limit) {
      yield chunk.subarray(0, limit - sent);
      return;
    }
    sent += chunk.length;
    yield chunk;
  }
}

/**
 * The bill as a stream (plain or through gzip) that yields chunks only as fast as they are read.
 * `truncateAt` ends the file early but cleanly (a well-formed gzip of too few bytes), so only the
 * SHA1 can tell.
 */
export function billStream(spec: BillSpec, o: { gzip: boolean; truncateAt?: number }): Readable {
  const chunks = o.truncateAt === undefined ? billChunks(spec) : truncated(billChunks(spec), o.truncateAt);
  const source = Readable.from(chunks, { objectMode: false });
  if (!o.gzip) return source;
  // A failing source must fail the returned stream too, or its reader would wait for ever.
  return streamPipeline(source, createGzip(), () => undefined);
}

/** Writes the bill to `out`, honouring back-pressure (see billStream). */
export async function streamBill(spec: BillSpec, out: Writable, o: { gzip: boolean; truncateAt?: number }): Promise<void> {
  await pipeline(billStream(spec, o), out);
}

/** A well-formed date, not after today and at most three months back (Beijing calendar). */
export function validBillDate(date: string, now: Date): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) return false;
  try {
    parseBeijing(date);
  } catch {
    return false;
  }
  const today = beijingDate(now);
  const [y, m, d] = today.split('-').map(Number) as [number, number, number];
  // Three calendar months back, clamped to the month's last day (31 May → 28/29 February).
  const lastDay = new Date(Date.UTC(y, m - 3, 0)).getUTCDate();
  const earliest = new Date(Date.UTC(y, m - 4, Math.min(d, lastDay))).toISOString().slice(0, 10);
  return date <= today && date >= earliest;
}

export interface BillTicketState {
  spec: BillSpec;
  gzip: boolean;
  bytes: number;
  expiresAt: number;
}

/** Download tokens handed out (one use each) and the digests of bills already hashed. */
export class BillDesk {
  private readonly tickets = new Map<string, BillTicketState>();
  private readonly digests = new Map<string, { fingerprint: string; sha1: string; bytes: number }>();

  async grant(spec: BillSpec, gzip: boolean, expiresAt: number): Promise<{ sha1: string; token: string }> {
    const digest = await this.digest(spec);
    const token = randomBytes(24).toString('base64url');
    this.tickets.set(token, { spec, gzip, bytes: digest.bytes, expiresAt });
    return { sha1: digest.sha1, token };
  }

  /** The token's ticket, which it uses up. */
  take(token: string): BillTicketState | undefined {
    const ticket = this.tickets.get(token);
    this.tickets.delete(token);
    return ticket;
  }

  /** Hashing a big synthetic bill takes seconds: the same snapshot is hashed once. */
  private async digest(spec: BillSpec): Promise<{ sha1: string; bytes: number }> {
    const key = `${spec.mchid}/${spec.date}/${spec.billType}/${spec.columns}`;
    const fingerprint = createHash('sha1').update(JSON.stringify([spec.rows, spec.synthetic])).digest('hex');
    const cached = this.digests.get(key);
    if (cached && cached.fingerprint === fingerprint) return cached;
    const digest = await billDigest(spec);
    this.digests.set(key, { fingerprint, ...digest });
    return digest;
  }
}
