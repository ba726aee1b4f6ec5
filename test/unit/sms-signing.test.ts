import { aliyunV1Expected, aliyunV1Valid, aliyunV3Expected, parseTc3, pct, tc3Expected } from '../../integrations/sms/emulator/sms.emulator-auth';
import { acs3Authorization, acsCanonicalQuery, acsEncode, sha256Hex, tc3Authorization } from '../../integrations/sms/sms.signing';

/**
 * Both sides of each SMS signature — the live clients' signers and the emulators' independent
 * verifiers — pinned to the vendors' own published examples.
 */

describe('Aliyun V1 (HMAC-SHA1): the emulator verifier', () => {
  // Aliyun's SendSms signing example (请求签名.md).
  const docParams = new Map(Object.entries({
    AccessKeyId: 'testId', Action: 'SendSms', Format: 'XML', OutId: '123', PhoneNumbers: '15300000001', RegionId: 'cn-hangzhou',
    SignName: '阿里云短信测试专用', SignatureMethod: 'HMAC-SHA1', SignatureNonce: '45e25e9b-0a6f-4070-8c85-2956eda1b466',
    SignatureVersion: '1.0', TemplateCode: 'SMS_71390007', TemplateParam: '{"customer":"test"}', Timestamp: '2017-07-12T02:42:19Z',
    Version: '2017-05-25',
  }));

  it('reproduces the documented SendSms signature', () => {
    expect(aliyunV1Expected('GET', docParams, 'testSecret')).toBe('zJDF+Lrzhj/ThnlvIToysFRq6t4=');
    expect(aliyunV1Valid('GET', new Map([...docParams, ['Signature', 'zJDF+Lrzhj/ThnlvIToysFRq6t4=']]), 'testSecret')).toBe(true);
  });

  it('reproduces the OpenAPI util vector (getRPCSignature)', () => {
    expect(aliyunV1Expected('', new Map([['test', 'ok']]), 'accessKeySecret')).toBe('jHx/oHoHNrbVfhncHEvPdHXZwHU=');
  });

  it('refuses a wrong secret, a changed parameter and another method', () => {
    const signed = new Map([...docParams, ['Signature', 'zJDF+Lrzhj/ThnlvIToysFRq6t4=']]);
    expect(aliyunV1Valid('GET', signed, 'testSecreT')).toBe(false);
    expect(aliyunV1Valid('POST', signed, 'testSecret')).toBe(false);
    expect(aliyunV1Valid('GET', new Map([...signed, ['OutId', '124']]), 'testSecret')).toBe(false);
  });
});

describe('Aliyun V3 (ACS3-HMAC-SHA256)', () => {
  // darabonba-openapi-util ts/test/client.spec.ts, "getAuthorization should ok".
  const hashed = '55e12e91650d2fec56ec74e1d3e4ddbfce2ef3a65890c2a19ecf88a307e76a23';
  const expected = 'ACS3-HMAC-SHA256 Credential=acesskey,SignedHeaders=x-acs-test,Signature=da772425f29289d3460d5fc961455d40c5e8c6afd0888b78a910c991e6a14846';

  it('the client signer reproduces the SDK vector (duplicate header names merged, empty value bare)', () => {
    const auth = acs3Authorization(
      { method: 'GET', pathname: '', query: { test: 'ok', empty: '' }, headers: { 'x-acs-test': 'http', 'x-acs-TEST': 'https' }, hashedPayload: hashed },
      'acesskey',
      'secret',
    );
    expect(auth).toBe(expected);
  });

  it('the emulator verifier reproduces it from the request as received', () => {
    const headers = new Map([['x-acs-test', ['https', 'http']]]);
    expect(aliyunV3Expected('GET', '', 'test=ok&empty=', headers, ['x-acs-test'], hashed, 'secret')).toBe(expected.slice(-64));
    expect(aliyunV3Expected('GET', '', 'test=ok&empty=', headers, ['x-acs-test'], hashed, 'secreT')).not.toBe(expected.slice(-64));
  });

  it('both sides encode the same way: RFC 3986, UTF-8, `*` and space escaped, `~` kept', () => {
    const samples = ['a b*c~d', '+8613800138000', '阿里云', "x!y'(z)", '{"code":"1&2=3\\n"}'];
    for (const s of samples) expect(acsEncode(s)).toBe(pct(s));
    expect(acsEncode('a b*c~d')).toBe('a%20b%2Ac~d');
    expect(acsCanonicalQuery({ b: '2', a: '1 +' })).toBe('a=1%20%2B&b=2');
  });
});

describe('Tencent TC3-HMAC-SHA256', () => {
  // Tencent's API 3.0 signing example (CVM DescribeInstances), the payload with literal \u escapes.
  const payload = '{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}';
  const expected =
    'TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, ' +
    'Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168';
  const input = {
    secretId: 'AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE', secretKey: 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLE', service: 'cvm',
    host: 'cvm.tencentcloudapi.com', contentType: 'application/json; charset=utf-8', payload, timestamp: 1551113065,
  };
  const headerValue = (name: string): string => (name === 'host' ? input.host : input.contentType);

  it('the client signer reproduces the documented Authorization', () => {
    expect(sha256Hex(payload)).toMatch(/^35e9c5b0.*f064$/);
    expect(tc3Authorization(input)).toBe(expected);
  });

  it('the emulator verifier reproduces the signature from the header and the body bytes', () => {
    const parsed = parseTc3(expected);
    expect(parsed).toMatchObject({ secretId: input.secretId, date: '2019-02-25', service: 'cvm', signedHeaders: ['content-type', 'host'] });
    if (!parsed) throw new Error('unparsed');
    expect(tc3Expected(parsed, headerValue, Buffer.from(payload), '1551113065', input.secretKey)).toBe(parsed.signature);
  });

  it('the emulator refuses other body bytes than those signed (re-serialised JSON) and another key', () => {
    const parsed = parseTc3(expected);
    if (!parsed) throw new Error('unparsed');
    const reserialised = JSON.stringify(JSON.parse(payload));
    expect(tc3Expected(parsed, headerValue, Buffer.from(reserialised), '1551113065', input.secretKey)).not.toBe(parsed.signature);
    expect(tc3Expected(parsed, headerValue, Buffer.from(payload), '1551113065', 'Gu5t9xGARNpq86cd98joQYCN3EXAMPLF')).not.toBe(parsed.signature);
  });
});
