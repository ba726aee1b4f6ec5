import { isRedisUnavailable } from '../../server/http-errors';

describe('isRedisUnavailable', () => {
  it('knows a cluster between a primary\'s death and its replica\'s promotion', () => {
    for (const message of [
      'Too many Cluster redirections. Last error: ReplyError: CLUSTERDOWN The cluster is down',
      'CLUSTERDOWN Hash slot not served',
      'TRYAGAIN Multiple keys request during rehashing of slot',
      'MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to no',
    ]) {
      expect([message, isRedisUnavailable(new Error(message))]).toEqual([message, true]);
    }
    expect(isRedisUnavailable(Object.assign(new Error('Failed to refresh slots cache.'), { name: 'ClusterAllFailedError' }))).toBe(true);
  });

  it('leaves other errors alone', () => {
    expect(isRedisUnavailable(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'))).toBe(false);
    expect(isRedisUnavailable('CLUSTERDOWN')).toBe(false);
  });
});
