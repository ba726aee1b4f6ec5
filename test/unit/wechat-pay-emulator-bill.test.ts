import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { yuanToFen } from '../../lib/money';
import { parseBeijing } from '../../lib/time';
import {
  billChunks,
  billDigest,
  billHasRows,
  feeFen,
  streamBill,
  syntheticOrder,
  textCell,
  validBillDate,
  type BillRow,
  type BillSpec,
} from '../../integrations/wechat-pay/emulator/wechat-pay.emulator-bill';

const DATE = '2026-03-01';

function spec(rows: BillRow[], o: Partial<BillSpec> = {}): BillSpec {
  return { mchid: '1900000001', appid: 'wx0000000000000001', columns: 27, billType: 'ALL', rows, synthetic: [], date: DATE, ...o };
}

function payment(n: number, total: number, description = `商品 ${n}`): BillRow {
  return {
    time: `${DATE} 10:00:${String(n).padStart(2, '0')}`,
    kind: 'payment',
    transactionId: `42000000000000000000000000${String(n).padStart(2, '0')}`,
    outTradeNo: `T${n}`,
    openid: `openid${n}`,
    description,
    total,
  };
}

function refund(n: number, total: number, amount: number): BillRow {
  return { ...payment(n, total), time: `${DATE} 18:00:00`, kind: 'refund', refundId: `5030000${n}`, outRefundNo: `R${n}`, refund: amount };
}

function bytesOf(s: BillSpec): Buffer {
  return Buffer.concat([...billChunks(s)]);
}

/** Reads a bill the way common parsers do: BOM off, CRLF lines, cells split on ",`". */
function parse(buf: Buffer): { header: string[]; rows: string[][]; summaryHeader: string[]; summary: string[]; lines: string[] } {
  const text = buf.toString('utf8');
  const lines = text.slice(1).split('\r\n');
  const cells = (line: string): string[] => line.slice(1).split(',`');
  return {
    header: (lines[0] ?? '').split(','),
    rows: lines.slice(1, -3).map(cells),
    summaryHeader: (lines[lines.length - 3] ?? '').split(','),
    summary: cells(lines[lines.length - 2] ?? ''),
    lines,
  };
}

describe('WeChat Pay emulator trade bill', () => {
  it('writes a BOM, CRLF lines, a plain header and back-ticked cells, ending with CRLF', () => {
    const buf = bytesOf(spec([payment(1, 1999)]));
    expect([...buf.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = buf.toString('utf8');
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    const lines = text.slice(1).split('\r\n');
    expect(lines).toHaveLength(5);
    expect(lines[0]).not.toContain('`');
    expect(lines[0]?.startsWith('交易时间,公众账号ID,商户号')).toBe(true);
    expect(lines[1]?.startsWith('`2026-03-01 10:00:01,`wx0000000000000001,`1900000001,`0,`,`')).toBe(true);
    expect(lines[2]).toBe('总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额');
    expect(lines[3]).toBe('`1.0,`19.99,`0.00,`0.00,`0.12000,`19.99,`0.00');
    expect(lines[4]).toBe('');
  });

  it('has 27 columns, or 24 without 订单金额/申请退款金额/费率备注', () => {
    const rows = [payment(1, 100), refund(1, 100, 40)];
    const full = parse(bytesOf(spec(rows)));
    expect(full.header).toHaveLength(27);
    expect(full.header.slice(-3)).toEqual(['订单金额', '申请退款金额', '费率备注']);
    for (const r of full.rows) expect(r).toHaveLength(27);
    expect(full.summaryHeader).toHaveLength(7);
    expect(full.summary).toHaveLength(7);

    const short = parse(bytesOf(spec(rows, { columns: 24 })));
    expect(short.header).toHaveLength(24);
    expect(short.header[23]).toBe('费率');
    for (const r of short.rows) expect(r).toHaveLength(24);
    expect(short.summaryHeader).toEqual(['总交易单数', '应结订单总金额', '退款总金额', '充值券退款总金额', '手续费总金额']);
    expect(short.summary).toEqual(['2.0', '1.00', '0.40', '0.00', '0.01000']);
  });

  it('writes payments as SUCCESS with empty refund columns and refunds as REFUND rows', () => {
    const { header, rows } = parse(bytesOf(spec([payment(1, 12345), refund(1, 12345, 2345)])));
    const col = (r: string[] | undefined, name: string): string | undefined => r?.[header.indexOf(name)];
    const [pay, ref] = rows;
    expect(col(pay, '交易状态')).toBe('SUCCESS');
    expect(col(pay, '应结订单金额')).toBe('123.45');
    expect(col(pay, '微信退款单号')).toBe('0');
    expect(col(pay, '商户退款单号')).toBe('0');
    expect(col(pay, '退款金额')).toBe('0.00');
    expect(col(pay, '手续费')).toBe('0.74000');
    expect(col(pay, '费率')).toBe('0.60%');
    expect(col(pay, '订单金额')).toBe('123.45');
    expect(col(ref, '交易状态')).toBe('REFUND');
    expect(col(ref, '应结订单金额')).toBe('0.00');
    expect(col(ref, '退款金额')).toBe('23.45');
    expect(col(ref, '申请退款金额')).toBe('23.45');
    expect(col(ref, '退款类型')).toBe('ORIGINAL');
    expect(col(ref, '退款状态')).toBe('SUCCESS');
    expect(col(ref, '商户退款单号')).toBe('R1');
    expect(col(ref, '手续费')).toBe('-0.14000');
  });

  it('computes the 0.6% fee in whole fen, written with five decimals', () => {
    expect(feeFen(1)).toBe(0);
    expect(feeFen(83)).toBe(0);
    expect(feeFen(84)).toBe(1);
    expect(feeFen(12345)).toBe(74);
    expect(feeFen(100_000_000)).toBe(600_000);
    const { rows } = parse(bytesOf(spec([payment(1, 100_000_000)])));
    expect(rows[0]?.[22]).toBe('6000.00000');
    expect(rows[0]?.[12]).toBe('1000000.00');
  });

  it('keeps commas, quotes and back-ticks of 商品名称 inside one cell for a ",`" splitter', () => {
    const nasty = 'Tea, "green" `matcha`,`x\r\nline2,';
    const { header, rows } = parse(bytesOf(spec([payment(1, 100, nasty), payment(2, 200, '`lead')])));
    expect(rows[0]).toHaveLength(27);
    expect(rows[1]).toHaveLength(27);
    const name = header.indexOf('商品名称');
    expect(rows[0]?.[name]).toBe(textCell(nasty));
    expect(rows[0]?.[name]).toBe('Tea, "green" `matcha`, `x line2,');
    expect(rows[0]?.[name + 1]).toBe('');
    expect(rows[1]?.[name]).toBe('`lead');
  });

  it('summarises exactly the sum of its rows', () => {
    const rows = [payment(1, 1), payment(2, 99_999), payment(3, 12_345), refund(2, 99_999, 50_000), refund(3, 12_345, 1)];
    const parsed = parse(bytesOf(spec(rows)));
    const sum = (name: string): number => parsed.rows.reduce((acc, r) => acc + yuanToFen(r[parsed.header.indexOf(name)] ?? ''), 0);
    const feeTenThousandths = parsed.rows.reduce((acc, r) => acc + Number((r[22] ?? '').replace('.', '')), 0);
    expect(parsed.summary[0]).toBe(`${rows.length}.0`);
    expect(yuanToFen(parsed.summary[1] ?? '')).toBe(sum('应结订单金额'));
    expect(yuanToFen(parsed.summary[2] ?? '')).toBe(sum('退款金额'));
    expect(Number((parsed.summary[4] ?? '').replace('.', ''))).toBe(feeTenThousandths);
    expect(yuanToFen(parsed.summary[5] ?? '')).toBe(sum('订单金额'));
    expect(yuanToFen(parsed.summary[6] ?? '')).toBe(sum('申请退款金额'));
    expect(parsed.summary[1]).toBe('1123.45');
  });

  it('filters SUCCESS and REFUND bills and knows an empty day', () => {
    const rows = [payment(1, 100), refund(1, 100, 40)];
    expect(parse(bytesOf(spec(rows, { billType: 'SUCCESS' }))).rows.map((r) => r[9])).toEqual(['SUCCESS']);
    expect(parse(bytesOf(spec(rows, { billType: 'REFUND' }))).rows.map((r) => r[9])).toEqual(['REFUND']);
    expect(billHasRows(spec([]))).toBe(false);
    expect(billHasRows(spec([payment(1, 100)], { billType: 'REFUND' }))).toBe(false);
    expect(billHasRows(spec([], { synthetic: [{ date: DATE, count: 1, prefix: 'S' }] }))).toBe(true);
  });

  it('announces the SHA1 of the uncompressed bytes, the same for every generation', async () => {
    const s = spec([payment(1, 100), refund(1, 100, 1)], { synthetic: [{ date: DATE, count: 3000, prefix: 'SYN' }] });
    const bytes = bytesOf(s);
    const digest = await billDigest(s);
    expect(digest).toEqual({ sha1: createHash('sha1').update(bytes).digest('hex'), bytes: bytes.length });
    const gz: Buffer[] = [];
    await streamBill(s, new Writable({ write: (c: Buffer, _e, cb) => (gz.push(c), cb()) }), { gzip: true });
    const unzipped = gunzipSync(Buffer.concat(gz));
    expect(createHash('sha1').update(unzipped).digest('hex')).toBe(digest.sha1);
    expect(createHash('sha1').update(Buffer.concat(gz)).digest('hex')).not.toBe(digest.sha1);
  });

  it('writes synthetic orders exactly as syntheticOrder describes them', () => {
    const { header, rows } = parse(bytesOf(spec([], { synthetic: [{ date: DATE, count: 5000, prefix: 'BENCH' }] })));
    expect(rows).toHaveLength(5000);
    const start = parseBeijing(DATE).getTime();
    for (const i of [0, 1, 2334, 2335, 4999]) {
      const o = syntheticOrder('BENCH', DATE, i);
      const row = rows[i] ?? [];
      expect(o.out_trade_no).toBe(`BENCH${String(i).padStart(10, '0')}`);
      expect(o.transaction_id).toMatch(/^4200\d{24}$/);
      expect(row[header.indexOf('商户订单号')]).toBe(o.out_trade_no);
      expect(row[header.indexOf('微信订单号')]).toBe(o.transaction_id);
      expect(yuanToFen(row[header.indexOf('应结订单金额')] ?? '')).toBe(o.total);
      expect(parseBeijing(row[0] ?? '').getTime()).toBe(o.success_time.getTime());
      expect(o.success_time.getTime() - start).toBeGreaterThanOrEqual(0);
      expect(o.success_time.getTime() - start).toBeLessThan(86_400_000);
    }
    expect(new Set(rows.map((r) => r[6])).size).toBe(5000);
  });

  it('validates bill dates: format, not in the future, at most three months back', () => {
    const now = new Date('2026-05-31T04:00:00Z');
    expect(validBillDate('2026-05-30', now)).toBe(true);
    expect(validBillDate('2026-02-28', now)).toBe(true);
    expect(validBillDate('2026-02-27', now)).toBe(false);
    expect(validBillDate('2026-06-01', now)).toBe(false);
    expect(validBillDate('2026-02-30', now)).toBe(false);
    expect(validBillDate('20260530', now)).toBe(false);
  });

  // Its speed is the reconcile bench's to measure (the raw download figure), never a timed test's.
  it('streams a 200,000-row day through gzip in flat memory', async () => {
    const s = spec([], { synthetic: [{ date: DATE, count: 200_000, prefix: 'BIG' }] });
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    let compressed = 0;
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _e, cb) {
        compressed += chunk.length;
        peak = Math.max(peak, process.memoryUsage().rss);
        setImmediate(cb);
      },
    });
    await streamBill(s, sink, { gzip: true });
    expect(compressed).toBeGreaterThan(1_000_000);
    expect(peak - before).toBeLessThan(50 * 1024 * 1024);
  }, 60_000);
});
