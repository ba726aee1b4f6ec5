import { PermanentError } from '../../lib/errors';
import { yuanToFen, type Fen } from '../../lib/money';
import { formatBeijing, parseBeijing } from '../../lib/time';

/**
 * The trade bill (对账单, bill_type ALL) read as a stream: UTF-8 BOM, CRLF or LF, a plain header line
 * of 24 or 27 names, detail lines whose cells each start with a back-tick, then the summary header
 * (`总交易单数,…`) and one summary line. Columns are found by their header names, never by position.
 * Memory is one chunk plus one line whatever the size of the bill.
 */

/** One detail line of the bill; amounts in fen. */
export interface BillDetailRow {
  /** 1 = the first detail line. */
  lineNo: number;
  tradeTime: Date;
  /** The same instant as `YYYY-MM-DD HH:mm:ss` Beijing, what a DATETIME column of Beijing time holds. */
  tradeTimeText: string;
  outTradeNo: string;
  transactionId: string;
  /** 交易状态: SUCCESS for a payment, REFUND for a refund row, REVOKED … as written. */
  tradeState: string;
  /** 应结订单金额 */
  settlementFen: Fen;
  /** 代金券金额 */
  couponFen: Fen;
  /** 订单金额 where the bill has it (27 columns), else 应结订单金额 + 代金券金额. */
  orderFen: Fen;
  /** 商户退款单号; empty on payment rows (WeChat writes `0`). */
  outRefundNo: string;
  /** 微信退款单号; empty on payment rows. */
  refundId: string;
  /** 退款金额 */
  refundFen: Fen;
  refundStatus: string;
  /** 手续费 as written: five decimals of yuan, kept as text so nothing rounds it. */
  fee: string;
}

/** The summary line (总交易单数,应结订单总金额,…); amounts in fen. */
export interface BillSummary {
  count: number;
  settlementTotalFen: Fen;
  refundTotalFen: Fen;
  rechargeRefundTotalFen: Fen;
  /** 手续费总金额, five decimals, as written. */
  feeTotal: string;
  /** 27-column bills only. */
  orderTotalFen?: Fen;
  appliedRefundTotalFen?: Fen;
}

/** What the detail lines add up to, to check the summary against. */
export interface BillTotals {
  count: number;
  settlementTotalFen: Fen;
  refundTotalFen: Fen;
}

/** A bill that cannot be read as WeChat writes them; its hash matched, so asking again will not help. */
export class BillFormatError extends PermanentError {
  constructor(
    readonly line: number,
    reason: string,
  ) {
    super('BILL_MALFORMED', `bill line ${line}: ${reason}`);
  }
}

/** A detail line longer than this is not a bill line: refusing it keeps the line buffer bounded. */
export const MAX_LINE_BYTES = 64 * 1024;
const LF = 0x0a;
const BEIJING_DATETIME = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const SUMMARY_MARK = '总交易单数';
const REQUIRED = ['交易时间', '微信订单号', '商户订单号', '交易状态', '应结订单金额', '代金券金额', '微信退款单号', '商户退款单号', '退款金额', '退款状态', '手续费'] as const;
const SUMMARY_NAMES = {
  count: '总交易单数',
  settlement: '应结订单总金额',
  refund: '退款总金额',
  recharge: '充值券退款总金额',
  fee: '手续费总金额',
  order: '订单总金额',
  applied: '申请退款总金额',
} as const;

interface Columns {
  count: number;
  time: number;
  transactionId: number;
  outTradeNo: number;
  state: number;
  settlement: number;
  coupon: number;
  refundId: number;
  outRefundNo: number;
  refund: number;
  refundStatus: number;
  fee: number;
  order: number | undefined;
}

type Stage = 'header' | 'detail' | 'summary' | 'done';

/**
 * Push bytes in, get rows out. Synchronous so a caller can batch thousands of rows per await;
 * `parseBill` wraps it for streams.
 */
export class BillParser {
  private rest: Buffer | null = null;
  private physicalLine = 0;
  private stage: Stage = 'header';
  private columns: Columns | undefined;
  private summaryNames: string[] = [];
  private detailCount = 0;
  private summary: BillSummary | undefined;
  private readonly dayStarts = new Map<string, number>();
  /** Cell bounds of the current detail line (a bill has 27 columns at most). */
  private readonly starts = new Int32Array(32);
  private readonly ends = new Int32Array(32);
  readonly totals: BillTotals = { count: 0, settlementTotalFen: 0, refundTotalFen: 0 };

  /** Parses every complete line of `chunk` (with what was left of the last one), appending rows to `out`. */
  push(chunk: Buffer, out: BillDetailRow[]): void {
    const data = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    let start = 0;
    for (let lf = data.indexOf(LF, start); lf >= 0; lf = data.indexOf(LF, start)) {
      this.line(data, start, lf, out);
      start = lf + 1;
    }
    if (start >= data.length) {
      this.rest = null;
      return;
    }
    if (data.length - start > MAX_LINE_BYTES) {
      throw new BillFormatError(this.physicalLine + 1, `longer than ${MAX_LINE_BYTES} bytes without a line break`);
    }
    // A copy, so the rest never pins the whole chunk it came from.
    this.rest = Buffer.from(data.subarray(start));
  }

  /** Takes the last line (a bill may lack the trailing newline) and returns the summary. */
  end(out: BillDetailRow[]): BillSummary {
    if (this.rest) {
      const last = this.rest;
      this.rest = null;
      this.line(last, 0, last.length, out);
    }
    if (!this.summary) {
      const where = this.stage === 'header' ? 'is empty' : this.stage === 'detail' ? 'has no summary' : 'has a summary header but no summary line';
      throw new BillFormatError(this.physicalLine, `the bill ${where}`);
    }
    return this.summary;
  }

  private line(data: Buffer, start: number, end: number, out: BillDetailRow[]): void {
    this.physicalLine += 1;
    let stop = end;
    if (stop > start && data[stop - 1] === 0x0d) stop -= 1;
    let text = data.toString('utf8', start, stop);
    if (this.physicalLine === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    if (text.trim() === '') return;
    switch (this.stage) {
      case 'header':
        this.columns = this.header(text);
        this.stage = 'detail';
        return;
      case 'detail':
        if (text.startsWith(SUMMARY_MARK)) {
          this.summaryNames = text.split(',').map((n) => n.trim());
          this.stage = 'summary';
          return;
        }
        out.push(this.detail(text));
        return;
      case 'summary':
        this.summary = this.summaryLine(text);
        this.stage = 'done';
        return;
      case 'done':
        throw new BillFormatError(this.physicalLine, 'text after the summary line');
    }
  }

  private header(text: string): Columns {
    const names = text.split(',').map((n) => n.trim());
    if (names.length !== 24 && names.length !== 27) {
      throw new BillFormatError(this.physicalLine, `the header has ${names.length} columns; a trade bill has 24 or 27`);
    }
    const index = new Map(names.map((n, i) => [n, i]));
    const at = (name: string): number => {
      const i = index.get(name);
      if (i === undefined) throw new BillFormatError(this.physicalLine, `the header has no column ${name}`);
      return i;
    };
    for (const name of REQUIRED) at(name);
    return {
      count: names.length,
      time: at('交易时间'),
      transactionId: at('微信订单号'),
      outTradeNo: at('商户订单号'),
      state: at('交易状态'),
      settlement: at('应结订单金额'),
      coupon: at('代金券金额'),
      refundId: at('微信退款单号'),
      outRefundNo: at('商户退款单号'),
      refund: at('退款金额'),
      refundStatus: at('退款状态'),
      fee: at('手续费'),
      order: index.get('订单金额'),
    };
  }

  /** Back-ticked cells, split on ",`" so commas inside 商品名称 or 商户数据包 stay in their cell. */
  private cells(text: string, expected: number): string[] {
    if (text.charCodeAt(0) !== 0x60) throw new BillFormatError(this.physicalLine, 'a summary line must start with a back-tick');
    const cells = text.slice(1).split(',`');
    if (cells.length !== expected) {
      throw new BillFormatError(this.physicalLine, `${cells.length} cells where the header has ${expected}`);
    }
    return cells;
  }

  /** Where each back-ticked cell of a detail line starts and ends, split on ",`" as `cells` does. */
  private cellBounds(text: string, expected: number): void {
    if (text.charCodeAt(0) !== 0x60) throw new BillFormatError(this.physicalLine, 'a detail line must start with a back-tick');
    let n = 0;
    let from = 1;
    for (let at = text.indexOf(',`', from); at >= 0; at = text.indexOf(',`', from)) {
      if (n + 1 >= this.starts.length) break;
      this.starts[n] = from;
      this.ends[n] = at;
      n += 1;
      from = at + 2;
    }
    this.starts[n] = from;
    this.ends[n] = text.length;
    n += 1;
    if (n !== expected || text.indexOf(',`', from) >= 0) {
      const count = text.slice(1).split(',`').length;
      throw new BillFormatError(this.physicalLine, `${count} cells where the header has ${expected}`);
    }
  }

  private detail(text: string): BillDetailRow {
    const c = this.columns as Columns;
    this.cellBounds(text, c.count);
    const { starts, ends } = this;
    // Only the cells read are cut out of the line: most of a row is never looked at.
    const cell = (i: number): string => text.slice(starts[i], ends[i]).trim();
    const fen = (i: number, name: string): Fen => this.fen(cell(i), name);
    const settlementFen = fen(c.settlement, '应结订单金额');
    const couponFen = fen(c.coupon, '代金券金额');
    const orderText = c.order === undefined ? '' : cell(c.order);
    const refundFen = fen(c.refund, '退款金额');
    const outTradeNo = cell(c.outTradeNo);
    if (outTradeNo === '') throw new BillFormatError(this.physicalLine, '商户订单号 is empty');
    const timeText = cell(c.time);
    const tradeTime = this.time(timeText);
    const tradeState = cell(c.state);
    this.detailCount += 1;
    this.totals.count += 1;
    this.totals.settlementTotalFen += settlementFen;
    this.totals.refundTotalFen += refundFen;
    return {
      lineNo: this.detailCount,
      tradeTime,
      tradeTimeText: BEIJING_DATETIME.test(timeText) ? timeText : formatBeijing(tradeTime),
      outTradeNo,
      transactionId: cell(c.transactionId),
      tradeState,
      settlementFen,
      couponFen,
      orderFen: orderText === '' ? settlementFen + couponFen : this.fen(orderText, '订单金额'),
      outRefundNo: noRefund(cell(c.outRefundNo)),
      refundId: noRefund(cell(c.refundId)),
      refundFen,
      refundStatus: cell(c.refundStatus),
      fee: cell(c.fee),
    };
  }

  private summaryLine(text: string): BillSummary {
    const names = this.summaryNames;
    const cells = this.cells(text, names.length);
    const value = (name: string): string | undefined => {
      const i = names.indexOf(name);
      return i < 0 ? undefined : (cells[i] as string).trim();
    };
    const required = (name: string): string => {
      const v = value(name);
      if (v === undefined) throw new BillFormatError(this.physicalLine, `the summary has no ${name}`);
      return v;
    };
    const countText = required(SUMMARY_NAMES.count);
    // WeChat renders the count as a float: `45.0`.
    const count = /^(\d+)(?:\.0*)?$/.exec(countText);
    if (!count?.[1]) throw new BillFormatError(this.physicalLine, `总交易单数 ${JSON.stringify(countText)} is not a count`);
    const order = value(SUMMARY_NAMES.order);
    const applied = value(SUMMARY_NAMES.applied);
    return {
      count: Number(count[1]),
      settlementTotalFen: this.fen(required(SUMMARY_NAMES.settlement), SUMMARY_NAMES.settlement),
      refundTotalFen: this.fen(required(SUMMARY_NAMES.refund), SUMMARY_NAMES.refund),
      rechargeRefundTotalFen: this.fen(value(SUMMARY_NAMES.recharge) || '0', SUMMARY_NAMES.recharge),
      feeTotal: value(SUMMARY_NAMES.fee) ?? '',
      ...(order ? { orderTotalFen: this.fen(order, SUMMARY_NAMES.order) } : {}),
      ...(applied ? { appliedRefundTotalFen: this.fen(applied, SUMMARY_NAMES.applied) } : {}),
    };
  }

  /** `YYYY-MM-DD HH:mm:ss` Beijing; the day's start is computed once per date, the rest is digits. */
  private time(text: string): Date {
    if (text.length === 19 && text.charCodeAt(10) === 0x20 && text.charCodeAt(13) === 0x3a && text.charCodeAt(16) === 0x3a) {
      const day = text.slice(0, 10);
      let start = this.dayStarts.get(day);
      if (start === undefined) start = this.dayStart(day);
      const h = twoDigits(text, 11);
      const m = twoDigits(text, 14);
      const sec = twoDigits(text, 17);
      if (start !== undefined && h < 24 && m < 60 && sec < 60) return new Date(start + ((h * 60 + m) * 60 + sec) * 1000);
    }
    try {
      return parseBeijing(text);
    } catch {
      throw new BillFormatError(this.physicalLine, `交易时间 ${JSON.stringify(text)} is not a Beijing date-time`);
    }
  }

  private dayStart(day: string): number | undefined {
    let start: number;
    try {
      start = parseBeijing(day).getTime();
    } catch {
      return undefined; // parseBeijing below names the bad value
    }
    if (this.dayStarts.size >= 64) this.dayStarts.clear();
    this.dayStarts.set(day, start);
    return start;
  }

  private fen(text: string, name: string): Fen {
    // Most cells of a row are zero (coupon, refund columns of a payment): no need to parse them.
    if (text === '' || text === '0.00') return 0;
    try {
      return yuanToFen(text);
    } catch {
      throw new BillFormatError(this.physicalLine, `${name} ${JSON.stringify(text)} is not an amount in yuan`);
    }
  }
}

/** The two-digit number at `at`, or 99 when those are not two digits. */
function twoDigits(text: string, at: number): number {
  const a = text.charCodeAt(at) - 48;
  const b = text.charCodeAt(at + 1) - 48;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : 99;
}

/** WeChat writes `0` in the refund number cells of payment rows. */
const noRefund = (value: string): string => (value === '0' ? '' : value);

/** Why the summary disagrees with the detail lines, or null when it agrees. */
export function summaryMismatch(summary: BillSummary, totals: BillTotals): string | null {
  const problems = [
    summary.count !== totals.count && `总交易单数 ${summary.count} but ${totals.count} detail lines`,
    summary.settlementTotalFen !== totals.settlementTotalFen && `应结订单总金额 ${summary.settlementTotalFen} fen but the lines add up to ${totals.settlementTotalFen}`,
    summary.refundTotalFen !== totals.refundTotalFen && `退款总金额 ${summary.refundTotalFen} fen but the lines add up to ${totals.refundTotalFen}`,
  ].filter((p): p is string => typeof p === 'string');
  return problems.length ? problems.join('; ') : null;
}

export type BillRecord = ({ type: 'row' } & BillDetailRow) | ({ type: 'summary'; totals: BillTotals } & BillSummary);

/** The bill as batches of rows (at most about `batchSize` each), then `{rows, summary}` last. */
export async function* parseBillBatches(
  source: AsyncIterable<Buffer | string>,
  batchSize = 2_000,
): AsyncGenerator<{ rows: BillDetailRow[]; summary?: BillSummary; totals: BillTotals }> {
  const parser = new BillParser();
  let rows: BillDetailRow[] = [];
  for await (const chunk of source) {
    parser.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, rows);
    if (rows.length >= batchSize) {
      yield { rows, totals: parser.totals };
      rows = [];
    }
  }
  const summary = parser.end(rows);
  yield { rows, summary, totals: parser.totals };
}

/** The bill row by row, then its summary (with what the rows added up to). */
export async function* parseBill(source: AsyncIterable<Buffer | string>): AsyncGenerator<BillRecord> {
  for await (const batch of parseBillBatches(source, 512)) {
    for (const row of batch.rows) yield { type: 'row', ...row };
    if (batch.summary) yield { type: 'summary', ...batch.summary, totals: { ...batch.totals } };
  }
}
