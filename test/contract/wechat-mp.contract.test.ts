import type { Redis } from 'ioredis';
import { PermanentError, RateLimitedError, RetryableError } from '../../lib/errors';
import { closeRedis } from '../../lib/redis';
import { WechatMpEmulator } from '../../integrations/wechat-mp/emulator/wechat-mp.emulator';
import { WechatMpPermanentError } from '../../integrations/wechat-mp/wechat-mp.errors';
import { LiveWechatMpClient } from '../../integrations/wechat-mp/wechat-mp.live';
import { deletePrefix, testPrefix, testRedis } from '../support/queues';
import { failure } from '../support/failure';

/** The live client against the emulator over real HTTP, its token shared through the real Redis. */

const APP = { appid: 'wx00000000000000b1', secret: 'secret-b1' };
const TPL = 'tpl-order-shipped';
const SUB = 'sub-lesson-reminder';
let emu: WechatMpEmulator;
let prefix: string;
const connections: Redis[] = [];
let seq = 0;
/** A well-formed openid (28 URL-safe characters), different for each call. */
const openid = (): string => `oU${String(Date.now()).padStart(16, '0')}${String((seq += 1)).padStart(10, '0')}`;

const clientOn = (redis: Redis, o: { timeoutMs?: number; keyPrefix?: string } = {}): LiveWechatMpClient =>
  new LiveWechatMpClient({ baseUrl: emu.baseUrl, ...APP, redis, keyPrefix: o.keyPrefix ?? prefix, timeoutMs: o.timeoutMs ?? 5_000 });

/** `n` clients as on `n` workers, spread over the open Redis connections. */
const workers = (n: number): LiveWechatMpClient[] => Array.from({ length: n }, (_, i) => clientOn(connections[i % connections.length] as Redis));


describe('WeChat messages against the emulator', () => {
  beforeAll(async () => {
    emu = await WechatMpEmulator.start();
    emu.addApp(APP);
    emu.addTemplate(APP.appid, TPL, { keys: ['thing1', 'time2', 'character_string3'] });
    emu.addTemplate(APP.appid, SUB, { keys: ['thing1', 'date2'] });
    prefix = testPrefix(__filename);
    for (let i = 0; i < 5; i++) connections.push(await testRedis());
  });
  afterAll(async () => {
    await emu.stop();
    await deletePrefix(connections[0] as Redis, prefix);
    for (const redis of connections) await closeRedis(redis);
  });

  describe('sends', () => {
    it('lands a template message in the ledger, trimmed to WeChat limits, with its mini-program link', async () => {
      const client = workers(1)[0] as LiveWechatMpClient;
      const user = openid();
      const sent = await client.sendTemplate(
        user,
        TPL,
        { thing1: '一二三四五六七八九十一二三四五六七八九十多出来', time2: '2026-03-10 12:00', character_string3: 'SO-1' },
        { url: 'https://example.com/o/1', miniprogram: { appid: 'wxmini', pagepath: 'pages/o?id=1' }, clientMsgId: `order-1-${user}` },
      );
      expect(sent.msgid).toMatch(/^\d{19}$/);
      const entry = emu.ledger.find((e) => e.msgid === sent.msgid);
      expect(entry).toMatchObject({ kind: 'template', appid: APP.appid, openid: user, templateId: TPL, url: 'https://example.com/o/1', miniprogram: { appid: 'wxmini', pagepath: 'pages/o?id=1' } });
      expect(entry?.data.thing1).toBe('一二三四五六七八九十一二三四五六七八九十');

      // The same client_msg_id again: the first message's id, no second message.
      const before = emu.ledger.length;
      const again = await client.sendTemplate(user, TPL, { thing1: 'x' }, { clientMsgId: `order-1-${user}` });
      expect(again.msgid).toBe(sent.msgid);
      expect(emu.ledger.length).toBe(before);
    });

    it('lands a subscribe message and uses up its one-time grant; the next one is 43101 and not retried', async () => {
      const client = workers(1)[0] as LiveWechatMpClient;
      const user = openid();
      emu.grantSubscription(APP.appid, user, SUB);
      const sent = await client.sendSubscribe(user, SUB, { thing1: '数学课', date2: '2026-03-11' }, 'pages/lesson?id=9', 'trial');
      expect(emu.ledger.find((e) => e.msgid === sent.msgid)).toMatchObject({ kind: 'subscribe', openid: user, templateId: SUB, page: 'pages/lesson?id=9', state: 'trial' });
      expect(emu.subscriptionsLeft(APP.appid, user, SUB)).toBe(0);

      const calls = emu.calls('subscribe');
      const err = await failure(client.sendSubscribe(user, SUB, { thing1: '数学课' }));
      expect(err).toBeInstanceOf(PermanentError);
      expect(err).toMatchObject({ code: 'USER_REFUSED', errcode: 43101, failure: 'user-template' });
      expect(emu.calls('subscribe')).toBe(calls + 1);
    });

    it('43101 on a template message the user turned off is permanent; 40037 is a configuration problem', async () => {
      const client = workers(1)[0] as LiveWechatMpClient;
      const user = openid();
      emu.refuseTemplate(APP.appid, user, TPL);
      const calls = emu.calls('template');
      expect(await failure(client.sendTemplate(user, TPL, { thing1: 'x' }))).toMatchObject({ code: 'USER_REFUSED', errcode: 43101 });
      expect(emu.calls('template')).toBe(calls + 1);
      const unknown = await failure(client.sendTemplate(user, 'no-such-template', { thing1: 'x' }));
      expect(unknown).toBeInstanceOf(WechatMpPermanentError);
      expect(unknown).toMatchObject({ code: 'INVALID_TEMPLATE_ID', failure: 'config' });
      expect(await failure(client.sendTemplate('bad-openid', TPL, { thing1: 'x' }))).toMatchObject({ code: 'INVALID_OPENID', errcode: 40003 });
    });

    it('45009 (a template over its daily quota) pauses the account until Beijing midnight', async () => {
      const tpl = 'tpl-quota';
      emu.addTemplate(APP.appid, tpl, { dailyQuota: 1 });
      const client = workers(1)[0] as LiveWechatMpClient;
      await client.sendTemplate(openid(), tpl, { thing1: 'first' });
      const err = await failure(client.sendTemplate(openid(), tpl, { thing1: 'second' }));
      expect(err).toBeInstanceOf(RateLimitedError);
      expect((err as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
      expect((err as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(86_400_000);
      expect(emu.template(APP.appid, tpl).sent).toBe(1);
    });

    it('-1 (system busy) is retryable, 45011 rate-limited, 47003 permanent', async () => {
      const client = workers(1)[0] as LiveWechatMpClient;
      emu.inject({ kind: 'errcode', errcode: -1, errmsg: 'system error' }, { route: 'template' });
      expect(await failure(client.sendTemplate(openid(), TPL, { thing1: 'x' }))).toBeInstanceOf(RetryableError);
      emu.inject({ kind: 'errcode', errcode: 45011 }, { route: 'subscribe' });
      const limited = await failure(client.sendSubscribe(openid(), SUB, { thing1: 'x' }));
      expect(limited).toBeInstanceOf(RateLimitedError);
      expect((limited as RateLimitedError).retryAfterMs).toBe(60_000);
      emu.inject({ kind: 'errcode', errcode: 47003 }, { route: 'template' });
      expect(await failure(client.sendTemplate(openid(), TPL, { thing1: 'x' }))).toMatchObject({ code: 'INVALID_TEMPLATE_DATA', failure: 'payload' });
    });

    it('a lost answer is OUTCOME_UNKNOWN, not retryable: the message did go out', async () => {
      const client = clientOn(connections[0] as Redis, { timeoutMs: 300 });
      const user = openid();
      emu.inject({ kind: 'hold' }, { route: 'template' });
      const err = await failure(client.sendTemplate(user, TPL, { thing1: 'lost' }));
      emu.releaseHeld();
      expect(err).toBeInstanceOf(PermanentError);
      expect(err).not.toBeInstanceOf(RetryableError);
      expect(err).toMatchObject({ code: 'OUTCOME_UNKNOWN' });
      expect(emu.ledger.filter((e) => e.openid === user)).toHaveLength(1);
    });
  });

  describe('the shared access token', () => {
    it('20 workers on an empty cache: one stable_token call, one token', async () => {
      const keyPrefix = `${prefix}:cold`;
      const clients = Array.from({ length: 20 }, (_, i) => clientOn(connections[i % connections.length] as Redis, { keyPrefix }));
      const calls = emu.stableTokenCalls(APP.appid);
      const users = clients.map(() => openid());
      await Promise.all(clients.map((c, i) => c.sendTemplate(users[i] as string, TPL, { thing1: 'cold' })));
      expect(emu.stableTokenCalls(APP.appid)).toBe(calls + 1);
      expect((await clients[0]?.tokens.peek())?.token).toBe(emu.currentToken(APP.appid));
      expect(emu.ledger.filter((e) => users.includes(e.openid))).toHaveLength(20);
    });

    it.each([
      ['revoked (40001)', (): void => emu.invalidateToken(APP.appid)],
      ['expired (42001)', (): void => emu.expireToken(APP.appid)],
    ])('20 workers with a %s token: exactly one refresh, every message sent', async (_label, spoil) => {
      const clients = workers(20);
      await clients[0]?.sendTemplate(openid(), TPL, { thing1: 'warm' });
      const stale = (await clients[0]?.tokens.peek())?.token;
      spoil();
      const calls = emu.stableTokenCalls(APP.appid);
      const issued = emu.tokensIssued(APP.appid);
      const users = clients.map(() => openid());
      await Promise.all(clients.map((c, i) => c.sendTemplate(users[i] as string, TPL, { thing1: 'after' })));
      expect(emu.stableTokenCalls(APP.appid)).toBe(calls + 1);
      expect(emu.tokensIssued(APP.appid)).toBe(issued + 1);
      const cached = (await clients[0]?.tokens.peek())?.token;
      expect(cached).not.toBe(stale);
      expect(cached).toBe(emu.currentToken(APP.appid));
      expect(emu.ledger.filter((e) => users.includes(e.openid))).toHaveLength(20);
    });

    it('a 40001 arriving after another worker replaced the token does not delete the new one', async () => {
      const [slow, fast] = workers(2) as [LiveWechatMpClient, LiveWechatMpClient];
      await fast.sendTemplate(openid(), TPL, { thing1: 'warm' });
      emu.invalidateToken(APP.appid);
      const calls = emu.stableTokenCalls(APP.appid);

      // The slow worker's 40001 is held at the emulator while the fast one meets it, refreshes and sends.
      emu.inject({ kind: 'hold' }, { route: 'template' });
      const slowUser = openid();
      const slowSend = slow.sendTemplate(slowUser, TPL, { thing1: 'slow' });
      await emu.waitForHeld();
      const fastUser = openid();
      await fast.sendTemplate(fastUser, TPL, { thing1: 'fast' });
      const replaced = (await fast.tokens.peek())?.token;
      expect(replaced).toBe(emu.currentToken(APP.appid));

      emu.releaseHeld();
      await slowSend;
      expect((await slow.tokens.peek())?.token).toBe(replaced);
      expect(emu.stableTokenCalls(APP.appid)).toBe(calls + 1);
      expect(emu.ledger.filter((e) => e.openid === slowUser || e.openid === fastUser)).toHaveLength(2);
      // And directly: the old token no longer matches, so nothing is removed.
      expect(await slow.tokens.invalidate('EMU_not-the-cached-token')).toBe(false);
      expect((await slow.tokens.peek())?.token).toBe(replaced);
    });

    it('20 workers past the refresh margin: one of them refreshes ahead of expiry, all send', async () => {
      await workers(1)[0]?.sendTemplate(openid(), TPL, { thing1: 'warm' });
      // Clocks 7000 s on: the cached token (7200 s) is inside its 5-minute margin but not expired.
      const later = (): Date => new Date(Date.now() + 7_000_000);
      const clients = Array.from(
        { length: 20 },
        (_, i) => new LiveWechatMpClient({ baseUrl: emu.baseUrl, ...APP, redis: connections[i % connections.length] as Redis, keyPrefix: prefix, timeoutMs: 5_000, now: later }),
      );
      const before = await clients[0]?.tokens.peek();
      const calls = emu.stableTokenCalls(APP.appid);
      const users = clients.map(() => openid());
      await Promise.all(clients.map((c, i) => c.sendTemplate(users[i] as string, TPL, { thing1: 'ahead' })));
      expect(emu.stableTokenCalls(APP.appid)).toBe(calls + 1);
      const after = await clients[0]?.tokens.peek();
      expect(after?.expiresAt).toBeGreaterThan(before?.expiresAt ?? Infinity);
      expect(emu.ledger.filter((e) => users.includes(e.openid))).toHaveLength(20);
    });

    it('a token code twice in a row stops after the one retry', async () => {
      const client = workers(1)[0] as LiveWechatMpClient;
      await client.sendTemplate(openid(), TPL, { thing1: 'warm' });
      const calls = emu.calls('template');
      emu.inject({ kind: 'errcode', errcode: 40001 }, { route: 'template', times: 2 });
      const err = await failure(client.sendTemplate(openid(), TPL, { thing1: 'x' }));
      expect(err).toMatchObject({ code: 'TOKEN_REJECTED', failure: 'config' });
      expect(emu.calls('template')).toBe(calls + 2);
    });

    it('a wrong secret is a configuration error from stable_token', async () => {
      const client = new LiveWechatMpClient({ baseUrl: emu.baseUrl, appid: APP.appid, secret: 'wrong', redis: connections[0] as Redis, keyPrefix: `${prefix}:wrong`, timeoutMs: 5_000 });
      expect(await failure(client.sendTemplate(openid(), TPL, { thing1: 'x' }))).toMatchObject({ code: 'INVALID_SECRET', failure: 'config' });
    });
  });
});
