import { boardRoleForBasic, clientForBearer, isSameOrigin, secretsEqual } from '../../server/auth';

const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const accounts = { admin: { username: 'ops', password: 'admin:pass-with-colon' }, viewer: { username: 'finance', password: 'viewer-pass' } };
const tokens = [
  { client: 'crm', token: 'crm-token-0123456789' },
  { client: 'app', token: 'app-token-0123456789' },
];

describe('API and dashboard credentials', () => {
  it('compares secrets of any length', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
    expect(secretsEqual('', 'x')).toBe(false);
  });

  it('names the client of a Bearer token, and nobody for anything else', () => {
    expect(clientForBearer('Bearer app-token-0123456789', tokens)).toBe('app');
    expect(clientForBearer('bearer crm-token-0123456789 ', tokens)).toBe('crm');
    for (const header of [undefined, '', 'Bearer', 'Bearer crm-token', 'Basic crm-token-0123456789', 'Bearer crm-token-0123456789 extra']) {
      expect(clientForBearer(header, tokens)).toBeNull();
    }
  });

  it('tells the admin from the viewer, and refuses a wrong half or a malformed header', () => {
    expect(boardRoleForBasic(basic('ops', 'admin:pass-with-colon'), accounts)).toBe('admin');
    expect(boardRoleForBasic(basic('finance', 'viewer-pass'), accounts)).toBe('viewer');
    expect(boardRoleForBasic(basic('finance', 'admin:pass-with-colon'), accounts)).toBeNull();
    expect(boardRoleForBasic(basic('ops', 'viewer-pass'), accounts)).toBeNull();
    expect(boardRoleForBasic(basic('finance', 'viewer-pass'), { ...accounts, viewer: null })).toBeNull();
    expect(boardRoleForBasic('Basic not-base64-without-colon', accounts)).toBeNull();
    expect(boardRoleForBasic(undefined, accounts)).toBeNull();
  });

  it('accepts a write only from the dashboard own origin', () => {
    expect(isSameOrigin('http://hub.internal:3000', 'hub.internal:3000', null)).toBe(true);
    expect(isSameOrigin('https://hub.internal:3000', 'hub.internal:3000', null)).toBe(true);
    expect(isSameOrigin('http://evil.example', 'hub.internal:3000', null)).toBe(false);
    expect(isSameOrigin(undefined, 'hub.internal:3000', null)).toBe(false);
    expect(isSameOrigin('null', 'hub.internal:3000', null)).toBe(false);
    // Behind a proxy that rewrites Host and ends TLS, the configured public URL decides.
    expect(isSameOrigin('https://jobhub.example.com', '127.0.0.1:3000', 'https://jobhub.example.com/')).toBe(true);
    expect(isSameOrigin('http://jobhub.example.com', '127.0.0.1:3000', 'https://jobhub.example.com')).toBe(false);
    expect(isSameOrigin('http://127.0.0.1:3000', '127.0.0.1:3000', 'https://jobhub.example.com')).toBe(false);
  });
});
