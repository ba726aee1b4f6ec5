import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import type { DataSource } from 'typeorm';
import { SmsCodeTemp } from '../../entities/customer-service/sms-code-temp.entity';
import { openTestDataSource } from '../support/db';
import { testConfig } from '../support/env';
import { captureLogger } from '../support/logs';

const PHONE = '13812345678';
const EMAIL = 'wang.lei@example.com';
const ID_NUMBER = '11010519491231002X';
const SECRETS = ['sk-live-0123456789', 'Bearer tok_abcdefghijkl', 'WECHATPAY2-SHA256-RSA2048 mchid="1900000001",signature="c2lnbmF0dXJl"', 'hunter2-password'];

describe('log redaction', () => {
  let db: DataSource;
  let server: Server;
  let baseURL: string;

  beforeAll(async () => {
    db = await openTestDataSource(testConfig());
    server = createServer((_req, res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'SYSTEM_ERROR', message: `failed for ${PHONE}` }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await db.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  function assertClean(text: string): void {
    for (const secret of [...SECRETS, PHONE, EMAIL, ID_NUMBER]) expect(text).not.toContain(secret);
  }

  it('masks secrets by key and personal data anywhere, at any depth', () => {
    const { log, text, lines } = captureLogger();
    log.info(
      {
        apiKey: SECRETS[0],
        headers: { Authorization: SECRETS[1] },
        nested: { deeper: { password: SECRETS[3], phone: PHONE, list: [{ email: EMAIL }] } },
        note: `call ${PHONE} or write to ${EMAIL}, id ${ID_NUMBER}`,
        outTradeNo: '4200001234202611230000000001',
      },
      `sending to ${PHONE}`,
    );
    assertClean(text());
    const [line] = lines();
    expect(line?.msg).toBe('sending to 138****5678');
    expect(line?.apiKey).toBe('[REDACTED]');
    expect(JSON.stringify(line)).toContain('w***@example.com');
    // Long trade numbers are not personal data and stay readable.
    expect(line?.outTradeNo).toBe('4200001234202611230000000001');
  });

  it('masks verification and check-in codes whole and openids, and keeps error codes', () => {
    const { log, text, lines } = captureLogger();
    const openid = 'oDemo202612051000xxxxxxxxxxx';
    log.info({ openid, params: { code: '246810', minutes: 5 }, checkInCode: 123456789012, err: { code: 'NOTENOUGH' }, phone: '138****5678' }, '您参加的「手工课」已拼团成功，核销码 987654321098');
    for (const value of [openid, '246810', '123456789012', '987654321098']) expect(text()).not.toContain(value);
    expect(lines()[0]).toMatchObject({
      msg: '您参加的「手工课」已拼团成功，核销码 [REDACTED]',
      openid: '[REDACTED]',
      params: { code: '[REDACTED]', minutes: 5 },
      checkInCode: '[REDACTED]',
      err: { code: 'NOTENOUGH' },
      // Masked already: masking again changes nothing.
      phone: '138****5678',
    });
  });

  it("masks a child logger's bindings and the message of an error logged without one", () => {
    const { log, text, lines } = captureLogger();
    log.child({ phone: PHONE, token: SECRETS[0], contact: { email: EMAIL } }).child({ idNumber: ID_NUMBER }).info('child line');
    log.error(new Error(`sms to ${PHONE} failed`));
    log.error({ err: new Error(`mail to ${EMAIL} bounced`) });
    assertClean(text());
    expect(lines().map((l) => l.msg)).toEqual(['child line', 'sms to 138****5678 failed', 'mail to w***@example.com bounced']);
    expect(lines()[0]).toMatchObject({ phone: '138****5678', token: '[REDACTED]' });
  });

  it('drops request headers, bodies and query strings from axios errors', async () => {
    const { log, text, lines } = captureLogger();
    const err = await axios
      .post(`${baseURL}/v3/pay/transactions/id/1?access_token=${encodeURIComponent(SECRETS[0] as string)}`, { password: SECRETS[3], mobile: PHONE }, {
        headers: { Authorization: SECRETS[2] as string, 'X-Api-Key': SECRETS[0] as string },
      })
      .catch((e: unknown) => e);
    expect(axios.isAxiosError(err)).toBe(true);
    log.error({ err }, 'vendor call failed');
    assertClean(text());
    const logged = lines()[0]?.err as Record<string, unknown>;
    expect(logged).toMatchObject({ type: 'AxiosError', method: 'POST', status: 500, url: `${baseURL}/v3/pay/transactions/id/1` });
    expect(String(logged.responseBody)).toContain('SYSTEM_ERROR');
  });

  it('keeps the SQL of a TypeORM query error but not its parameters', async () => {
    const { log, text, lines } = captureLogger();
    const err = await db
      .query("INSERT INTO sms_code_temps (id, phone, code, expire_time) VALUES (?, ?, ?, '2026-01-01'), (?, ?, ?, '2026-01-01')", [1, PHONE, SECRETS[3], 1, PHONE, SECRETS[3]])
      .catch((e: unknown) => e);
    await db.getRepository(SmsCodeTemp).clear();
    log.error({ err }, 'insert failed');
    assertClean(text());
    const logged = lines()[0]?.err as Record<string, unknown>;
    expect(logged.type).toBe('QueryFailedError');
    expect(String(logged.query)).toContain('INSERT INTO sms_code_temps');
    expect(logged.parameters).toBeUndefined();
  });
});
