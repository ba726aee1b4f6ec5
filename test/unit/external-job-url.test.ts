import { externalJobUrl, jobRecordLink } from '../../server/board/external-job-url';

describe('the dashboard\'s link from a job to its business record', () => {
  it('links a refund job to its refund, and a payment job to the lookup of its payment', () => {
    expect(jobRecordLink({ data: { outRefundNo: 'R0123abc' } })).toEqual({ href: '/api/v1/lookup?key=R0123abc', displayText: 'refund R0123abc' });
    expect(jobRecordLink({ data: { mchid: '1900000001', outTradeNo: 'P2026/11 x' } })).toEqual({ href: '/api/v1/lookup?key=P2026%2F11%20x', displayText: 'payment P2026/11 x' });
  });

  it('prefers the refund when a job names both keys', () => {
    expect(jobRecordLink({ data: { outTradeNo: 'P1', outRefundNo: 'R1' } })?.href).toBe('/api/v1/lookup?key=R1');
  });

  it('gives no link to a job without a business key, or with one that is not a non-empty string', () => {
    for (const data of [{}, { batchSize: 500 }, { outRefundNo: '' }, { outTradeNo: 42 }, null, 'outTradeNo', undefined]) {
      expect([data, jobRecordLink({ data })]).toEqual([data, undefined]);
    }
  });

  it('is the function Bull Board\'s adapter option calls with a whole job', () => {
    const job = { id: 'refund-R9', name: 'refund-submit', data: { outRefundNo: 'R9' }, progress: 0, attemptsMade: 0, timestamp: 0, failedReason: '', stacktrace: null, returnvalue: null, opts: {} };
    expect(externalJobUrl(job)).toEqual({ href: '/api/v1/lookup?key=R9', displayText: 'refund R9' });
  });
});
