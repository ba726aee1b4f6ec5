import { Readable } from 'node:stream';
import {
  BillFormatError,
  BillParser,
  parseBill,
  summaryMismatch,
  type BillDetailRow,
  type BillRecord,
  type BillSummary,
} from '../../integrations/wechat-pay/wechat-pay.bill-parser';
import { parseBeijing } from '../../lib/time';

const HEADER_24 =
  '交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率';
const HEADER_27 = `${HEADER_24},订单金额,申请退款金额,费率备注`;
const SUMMARY_24 = '总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额';
const SUMMARY_27 = `${SUMMARY_24},订单总金额,申请退款总金额`;

interface Line {
  time?: string;
  tx: string;
  no: string;
  state?: string;
  settle: string;
  coupon?: string;
  refundId?: string;
  refundNo?: string;
  refund?: string;
  refundStatus?: string;
  name?: string;
  attach?: string;
  fee?: string;
  order?: string;
}

function line(l: Line, columns: 24 | 27): string {
  const cells = [
    l.time ?? '2026-03-01 12:00:00', 'wxd678efh567hg6787', '1900000001', '0', '', l.tx, l.no, 'oUser', 'JSAPI', l.state ?? 'SUCCESS', 'OTHERS', 'CNY',
    l.settle, l.coupon ?? '0.00', l.refundId ?? '0', l.refundNo ?? '0', l.refund ?? '0.00', '0.00', l.refundNo ? 'ORIGINAL' : '', l.refundStatus ?? '',
    l.name ?? '商品', l.attach ?? '', l.fee ?? '0.00600', '0.60%',
  ];
  if (columns === 27) cells.push(l.order ?? l.settle, l.refund ?? '0.00', '');
  return cells.map((c) => `\`${c}`).join(',');
}

const LINES: Line[] = [
  { tx: '4200000001', no: 'T001', settle: '0.07', name: 'a, b "quoted" and `ticks`', attach: 'k=v,x=`y`' },
  { tx: '4200000002', no: 'T002', settle: '1234567.89', coupon: '0.11', fee: '7407.40734', time: '2026-03-01 23:59:59' },
  { tx: '4200000001', no: 'T001', state: 'REFUND', settle: '0.00', refundId: '5030000001', refundNo: 'R001', refund: '0.05', refundStatus: 'SUCCESS', fee: '-0.00030' },
];

function bill(columns: 24 | 27, o: { eol?: string; bom?: boolean; trailing?: boolean; count?: string; settleTotal?: string } = {}): string {
  const eol = o.eol ?? '\r\n';
  const summary =
    columns === 27
      ? `\`${o.count ?? '3.0'},\`${o.settleTotal ?? '1234567.96'},\`0.05,\`0.00,\`7407.41337,\`1234568.07,\`0.05`
      : `\`${o.count ?? '3.0'},\`${o.settleTotal ?? '1234567.96'},\`0.05,\`0.00,\`7407.41337`;
  const lines = [columns === 27 ? HEADER_27 : HEADER_24, ...LINES.map((l) => line(l, columns)), columns === 27 ? SUMMARY_27 : SUMMARY_24, summary];
  return `${o.bom === false ? '' : '\ufeff'}${lines.join(eol)}${o.trailing === false ? '' : eol}`;
}

async function readAll(source: Buffer[] | string): Promise<{ rows: BillDetailRow[]; summary: BillSummary & { totals: unknown } }> {
  const records: BillRecord[] = [];
  const chunks = typeof source === 'string' ? [Buffer.from(source, 'utf8')] : source;
  for await (const r of parseBill(Readable.from(chunks))) records.push(r);
  const rows = records.filter((r): r is Extract<BillRecord, { type: 'row' }> => r.type === 'row');
  const summary = records.find((r): r is Extract<BillRecord, { type: 'summary' }> => r.type === 'summary');
  if (!summary) throw new Error('no summary');
  return { rows, summary };
}

async function failure(source: string): Promise<BillFormatError> {
  try {
    await readAll(source);
  } catch (err) {
    if (err instanceof BillFormatError) return err;
    throw err;
  }
  throw new Error('the bill was accepted');
}

describe('trade bill parser', () => {
  it('reads a 24-column bill with BOM and CRLF: cells, fen and Beijing times', async () => {
    const { rows, summary } = await readAll(bill(24));
    expect(rows).toHaveLength(3);
    const [first, second, refund] = rows as [BillDetailRow, BillDetailRow, BillDetailRow];
    expect(first).toMatchObject({ lineNo: 1, outTradeNo: 'T001', transactionId: '4200000001', tradeState: 'SUCCESS', settlementFen: 7, orderFen: 7, outRefundNo: '', refundId: '', refundFen: 0 });
    expect(first.tradeTime.getTime()).toBe(parseBeijing('2026-03-01 12:00:00').getTime());
    expect(second).toMatchObject({ lineNo: 2, settlementFen: 123456789, couponFen: 11, orderFen: 123456800, fee: '7407.40734' });
    expect(second.tradeTime.toISOString()).toBe('2026-03-01T15:59:59.000Z');
    expect(refund).toMatchObject({ tradeState: 'REFUND', outRefundNo: 'R001', refundId: '5030000001', refundFen: 5, refundStatus: 'SUCCESS', settlementFen: 0 });
    expect(summary).toMatchObject({ count: 3, settlementTotalFen: 123456796, refundTotalFen: 5, rechargeRefundTotalFen: 0, feeTotal: '7407.41337' });
    expect(summary.orderTotalFen).toBeUndefined();
    expect(summary.totals).toEqual({ count: 3, settlementTotalFen: 123456796, refundTotalFen: 5 });
  });

  it('reads a 27-column bill by header names: 订单金额 comes from its own column', async () => {
    const { rows, summary } = await readAll(bill(27));
    expect(rows.map((r) => r.orderFen)).toEqual([7, 123456789, 0]);
    expect(summary).toMatchObject({ count: 3, orderTotalFen: 123456807, appliedRefundTotalFen: 5 });
  });

  it('finds columns by name when they are in another order', async () => {
    const names = HEADER_24.split(',');
    const swap = (cells: string[]): string[] => {
      const copy = [...cells];
      [copy[6], copy[5]] = [copy[5] as string, copy[6] as string];
      return copy;
    };
    const detail = swap(line(LINES[0] as Line, 24).slice(1).split(',`')).map((c) => `\`${c}`).join(',');
    const text = [swap(names).join(','), detail, SUMMARY_24, '`1.0,`0.07,`0.00,`0.00,`0.00000'].join('\r\n');
    const { rows } = await readAll(text);
    expect(rows[0]).toMatchObject({ outTradeNo: 'T001', transactionId: '4200000001' });
  });

  it('keeps commas, quotes and back-ticks inside 商品名称 and 商户数据包 in their cells', async () => {
    const parser = new BillParser();
    const rows: BillDetailRow[] = [];
    parser.push(Buffer.from(bill(24)), rows);
    parser.end(rows);
    // The cells after the free text are still read from the right column.
    expect(rows[0]?.fee).toBe('0.00600');
    expect(rows[0]?.outTradeNo).toBe('T001');
  });

  it('reads LF line ends, no BOM and no trailing newline alike', async () => {
    const reference = await readAll(bill(27));
    for (const variant of [bill(27, { eol: '\n' }), bill(27, { bom: false }), bill(27, { trailing: false }), bill(27, { eol: '\n', trailing: false, bom: false })]) {
      const { rows, summary } = await readAll(variant);
      expect(rows).toEqual(reference.rows);
      expect(summary).toEqual(reference.summary);
    }
  });

  it('gives the same result whatever the chunk boundaries, down to every single byte', async () => {
    const bytes = Buffer.from(bill(27), 'utf8');
    const reference = await readAll([bytes]);
    for (let cut = 1; cut < bytes.length; cut += 1) {
      const { rows, summary } = await readAll([bytes.subarray(0, cut), bytes.subarray(cut)]);
      expect(rows).toEqual(reference.rows);
      expect(summary).toEqual(reference.summary);
    }
    const oneByteChunks = Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
    expect(await readAll(oneByteChunks)).toEqual(reference);
  });

  it('reads empty cells as empty values and zero amounts', async () => {
    const text = [HEADER_24, line({ tx: '', no: 'T9', settle: '', coupon: '', refundNo: '', refundId: '', name: '', fee: '' }, 24), SUMMARY_24, '`1.0,`0.00,`0.00,`,`'].join('\r\n');
    const { rows, summary } = await readAll(text);
    expect(rows[0]).toMatchObject({ transactionId: '', settlementFen: 0, couponFen: 0, orderFen: 0, outRefundNo: '', fee: '' });
    expect(summary).toMatchObject({ count: 1, rechargeRefundTotalFen: 0, feeTotal: '' });
  });

  it('compares the summary with what the lines add up to', async () => {
    const good = await readAll(bill(24));
    expect(summaryMismatch(good.summary, { count: 3, settlementTotalFen: 123456796, refundTotalFen: 5 })).toBeNull();
    const bad = await readAll(bill(24, { count: '4.0', settleTotal: '1.00' }));
    expect(summaryMismatch(bad.summary, { count: 3, settlementTotalFen: 123456796, refundTotalFen: 5 })).toMatch(/总交易单数 4 but 3 .*应结订单总金额 100 fen/);
  });

  it('names the line of a malformed bill', async () => {
    const lines = bill(24).split('\r\n');
    const cases: [string[], RegExp][] = [
      [[lines[0] as string, lines[1] as string, '`2026-03-01 12:00:00,`too few cells', ...lines.slice(2)], /bill line 3: 2 cells where the header has 24/],
      [[lines[0] as string, (lines[1] as string).replace('`0.07', '`0.0x7')], /bill line 2: 应结订单金额 "0.0x7" is not an amount/],
      [[lines[0] as string, (lines[1] as string).replace('`0.07', '`0.075')], /bill line 2: 应结订单金额/],
      [[lines[0] as string, (lines[1] as string).slice(1)], /bill line 2: a detail line must start with a back-tick/],
      [[lines[0] as string, (lines[1] as string).replace('2026-03-01 12:00:00', '2026-02-30 12:00:00')], /bill line 2: 交易时间/],
      [[(lines[0] as string).split(',').slice(0, 20).join(','), lines[1] as string], /bill line 1: the header has 20 columns/],
      [[lines[0] as string, lines[1] as string], /the bill has no summary/],
      [[...lines.slice(0, 6), 'junk'], /bill line 7: text after the summary line/],
      [[''], /the bill is empty/],
    ];
    for (const [text, message] of cases) expect((await failure(text.join('\r\n'))).message).toMatch(message);
  });

  it('refuses a line longer than the bound instead of buffering it', () => {
    const parser = new BillParser();
    expect(() => parser.push(Buffer.alloc(70 * 1024, 0x41), [])).toThrow(/bill line 1: longer than 65536 bytes/);
  });
});
