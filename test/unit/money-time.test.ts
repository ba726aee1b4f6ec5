import { fenToYuan, yuanToFen } from '../../lib/money';
import { beijingDate, beijingDayRange, beijingSlot, formatBeijing, parseBeijing, parseRfc3339, previousBeijingDate } from '../../lib/time';

describe('money', () => {
  it('converts yuan text to fen without floating point', () => {
    expect(yuanToFen('0.01')).toBe(1);
    expect(yuanToFen('12.3')).toBe(1230);
    expect(yuanToFen('19.99')).toBe(1999);
    expect(yuanToFen('-0.07')).toBe(-7);
    expect(yuanToFen('100')).toBe(10000);
    expect(yuanToFen('1234567.89')).toBe(123456789);
  });

  it('refuses what is not an amount', () => {
    for (const bad of ['', '1.234', 'abc', '1,00', '¥1.00', '1e3']) expect(() => yuanToFen(bad)).toThrow(RangeError);
  });

  it('formats fen as yuan with two decimals', () => {
    expect(fenToYuan(1)).toBe('0.01');
    expect(fenToYuan(1230)).toBe('12.30');
    expect(fenToYuan(-7)).toBe('-0.07');
    expect(() => fenToYuan(1.5)).toThrow(RangeError);
  });
});

describe('Beijing time', () => {
  const lateUtc = new Date('2026-03-01T16:30:00Z'); // 00:30 on 2 March in Beijing

  it('puts a late-UTC instant on the next Beijing day', () => {
    expect(beijingDate(lateUtc)).toBe('2026-03-02');
    expect(formatBeijing(lateUtc)).toBe('2026-03-02 00:30:00');
    expect(beijingSlot(lateUtc)).toBe('202603020030');
  });

  it('parses Beijing wall time and gives day ranges', () => {
    expect(parseBeijing('2026-03-02 00:30:00').toISOString()).toBe(lateUtc.toISOString());
    const { start, end } = beijingDayRange('2026-03-02');
    expect(start.toISOString()).toBe('2026-03-01T16:00:00.000Z');
    expect(end.toISOString()).toBe('2026-03-02T16:00:00.000Z');
    expect(previousBeijingDate('2026-03-01')).toBe('2026-02-28');
  });

  it('refuses impossible dates', () => {
    expect(() => parseBeijing('2026-02-30')).toThrow(RangeError);
    expect(() => parseBeijing('yesterday')).toThrow(RangeError);
  });
});

describe('RFC 3339 timestamps', () => {
  it('reads WeChat\'s +08:00 form as the instant it names; absent or unreadable is null', () => {
    expect(parseRfc3339('2026-11-23T10:00:00+08:00')?.toISOString()).toBe('2026-11-23T02:00:00.000Z');
    expect(parseRfc3339(undefined)).toBeNull();
    expect(parseRfc3339('')).toBeNull();
    expect(parseRfc3339('not a time')).toBeNull();
  });
});
