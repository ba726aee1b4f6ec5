import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * The one HTTP server every HTTP emulator runs on: fastify on a loopback port, every method and
 * path to the emulator's handler with the body as raw bytes (vendors sign bytes, so nothing is
 * parsed for them), and the answer written exactly as the emulator gives it: no header added,
 * nothing re-encoded, or the connection dropped without one.
 */

export interface EmulatorRequest {
  readonly method: string;
  /** The path and query as sent, undecoded. */
  readonly rawUrl: string;
  /** Parsed against the emulator's own origin. */
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  /** Name, value, name, value…: repeated headers and their case, as some signatures need. */
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
  /** True once the client stopped waiting (its timeout ran out first). */
  gone(): boolean;
}

export interface EmulatorAnswer {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Buffer | Readable;
}

/** Do the work, then close the connection instead of answering: the outcome is unknown to the client. */
export const DROP_CONNECTION = Symbol('drop the connection');

export type EmulatorHandler = (request: EmulatorRequest) => Promise<EmulatorAnswer | typeof DROP_CONNECTION>;

/** Bills and batch requests are large; the vendors' own limits are checked by the emulators. */
const BODY_LIMIT = 64 * 1024 * 1024;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** A JSON answer, `content-type` given unless the caller gives its own. */
export function jsonAnswer(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): EmulatorAnswer {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers }, body: JSON.stringify(body) };
}

export class EmulatorServer {
  private constructor(
    private readonly app: FastifyInstance,
    readonly baseUrl: string,
  ) {}

  static async start(handler: EmulatorHandler): Promise<EmulatorServer> {
    let origin = '';
    const app = Fastify({
      logger: false,
      bodyLimit: BODY_LIMIT,
      exposeHeadRoutes: false,
      forceCloseConnections: true,
      // A path the router cannot decode still reaches the emulator, which answers it as its vendor does.
      frameworkErrors: (_error, request, reply) => void serve(handler, request, reply, origin),
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    app.route({ method: METHODS, url: '*', handler: (request, reply) => serve(handler, request, reply, origin) });
    await app.listen({ port: 0, host: '127.0.0.1' });
    origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    return new EmulatorServer(app, origin);
  }

  /** Closes every connection, in flight or idle: the emulator is gone, as a vendor outage would be. */
  async stop(): Promise<void> {
    await this.app.close();
  }
}

async function serve(handler: EmulatorHandler, request: FastifyRequest, reply: FastifyReply, origin: string): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  // Before the answer is written, a response closes only when its connection does: the client left.
  let clientLeft = false;
  res.once('close', () => (clientLeft = true));
  try {
    const body = Buffer.isBuffer(request.body) ? request.body : await readBody(request);
    const answer = await handler({
      method: request.method,
      rawUrl: request.raw.url ?? '/',
      url: new URL(request.raw.url ?? '/', origin),
      headers: request.headers,
      rawHeaders: request.raw.rawHeaders,
      body,
      gone: () => clientLeft || res.destroyed,
    });
    write(res, answer);
  } catch (err) {
    // An emulator's own fault: say so plainly, as no vendor would.
    if (!res.headersSent && !res.destroyed) res.writeHead(500, { 'content-type': 'text/plain' }).end(`emulator error: ${(err as Error).message}`);
    else res.destroy();
  }
}

function write(res: ServerResponse, answer: EmulatorAnswer | typeof DROP_CONNECTION): void {
  if (answer === DROP_CONNECTION) {
    res.destroy();
    return;
  }
  if (res.destroyed) return;
  const { body } = answer;
  if (body === undefined || typeof body === 'string' || Buffer.isBuffer(body)) {
    // 204 and 304 carry no body and so no length (RFC 9110 §8.6).
    const sized = answer.status !== 204 && answer.status !== 304;
    const length = sized ? { 'content-length': String(body === undefined ? 0 : Buffer.byteLength(body)) } : {};
    res.writeHead(answer.status, { ...length, ...answer.headers });
    res.end(body);
    return;
  }
  res.writeHead(answer.status, answer.headers);
  body.on('error', () => res.destroy());
  body.pipe(res);
}

/** A request fastify did not parse (one its router refused): the bytes straight from the socket. */
async function readBody(request: FastifyRequest): Promise<Buffer> {
  if (request.raw.readableEnded) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  for await (const chunk of request.raw) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
