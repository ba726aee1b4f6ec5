import { request } from 'node:http';
import { Readable } from 'node:stream';
import { DROP_CONNECTION, EmulatorServer, jsonAnswer, type EmulatorRequest } from '../../integrations/emulator-server';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

function send(baseUrl: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The server every HTTP emulator runs on, over real HTTP. */
describe('emulator server', () => {
  const seen: EmulatorRequest[] = [];
  let server: EmulatorServer;

  beforeAll(async () => {
    server = await EmulatorServer.start(async (r) => {
      seen.push(r);
      if (r.url.pathname === '/drop') return DROP_CONNECTION;
      if (r.url.pathname === '/stream') return { status: 200, headers: { 'content-type': 'text/csv' }, body: Readable.from(['a,b\n', '1,2\n']) };
      if (r.url.pathname === '/throw') throw new Error('state is broken');
      if (r.url.pathname === '/none') return { status: 204, headers: { 'request-id': 'r2' } };
      return jsonAnswer(201, { got: r.body.toString('utf8') }, { 'request-id': 'r1' });
    });
  });
  afterAll(() => server.stop());

  it('hands the body over as the bytes sent, whatever the content type says, and answers exactly what the handler gives', async () => {
    const bad = await send(server.baseUrl, 'POST', '/v3/x?a=1', '{not json', { 'content-type': 'application/json' });
    expect(bad).toMatchObject({ status: 201, text: '{"got":"{not json"}' });
    expect(bad.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'request-id': 'r1', 'content-length': '19' });
    const bare = await send(server.baseUrl, 'PUT', '/plain', 'k=v&x=%20');
    expect(bare.text).toBe('{"got":"k=v&x=%20"}');
    expect(seen.at(-1)).toMatchObject({ method: 'PUT', rawUrl: '/plain' });
  });

  it('reaches the handler with a path the router cannot decode, undecoded', async () => {
    await expect(send(server.baseUrl, 'GET', '/v3/refund/%ZZ')).resolves.toMatchObject({ status: 201 });
    expect(seen.at(-1)).toMatchObject({ method: 'GET', rawUrl: '/v3/refund/%ZZ' });
    expect(seen.at(-1)?.body.length).toBe(0);
  });

  it('keeps raw headers in order and case', async () => {
    await send(server.baseUrl, 'POST', '/h', 'x', { 'X-Acs-Signature-Nonce': 'n1', 'content-type': 'text/plain' });
    const raw = seen.at(-1)?.rawHeaders ?? [];
    expect(raw[raw.indexOf('X-Acs-Signature-Nonce') + 1]).toBe('n1');
  });

  it('streams a body, drops the connection when told, and answers 500 for its own fault', async () => {
    await expect(send(server.baseUrl, 'GET', '/stream')).resolves.toMatchObject({ status: 200, text: 'a,b\n1,2\n' });
    await expect(send(server.baseUrl, 'POST', '/drop', 'x')).rejects.toThrow(/socket hang up|ECONNRESET/);
    await expect(send(server.baseUrl, 'GET', '/throw')).resolves.toMatchObject({ status: 500, text: 'emulator error: state is broken' });
    const none = await send(server.baseUrl, 'DELETE', '/none');
    expect(none).toMatchObject({ status: 204, text: '' });
    expect(none.headers['content-length']).toBeUndefined();
  });

  it('says the client is gone only once it left, not while it waits', async () => {
    const checks: boolean[] = [];
    let left: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (left = resolve));
    const slow = await EmulatorServer.start(async (r) => {
      checks.push(r.gone());
      await new Promise((resolve) => setTimeout(resolve, 30));
      checks.push(r.gone());
      await waiting;
      await new Promise((resolve) => setTimeout(resolve, 30));
      checks.push(r.gone());
      return jsonAnswer(200, {});
    });
    const req = request(`${slow.baseUrl}/held`, { method: 'POST' });
    req.on('error', () => undefined);
    req.end('body');
    await new Promise((resolve) => setTimeout(resolve, 80));
    req.destroy();
    left();
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(checks).toEqual([false, false, true]);
    await slow.stop();
  });

  it('closes connections in flight when stopped', async () => {
    let release: () => void = () => undefined;
    const slow = await EmulatorServer.start(() => new Promise((resolve) => (release = () => resolve(jsonAnswer(200, {})))));
    const pending = send(slow.baseUrl, 'GET', '/slow');
    await new Promise((r) => setTimeout(r, 50));
    await slow.stop();
    await expect(pending).rejects.toThrow(/socket hang up|ECONNRESET/);
    release();
  });
});
