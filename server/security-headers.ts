import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/** Answers that are data (the API, the dashboard's own API): never kept by a browser or a proxy. */
const NO_STORE_PATHS = /^\/(?:api|admin\/queues\/api)(?:\/|\?|$)/;

/** Bull Board's page links Google Fonts: a third-party request from a page of customer data, unreachable in some networks. */
const THIRD_PARTY_FONTS = /<link\b[^>]*\bhref="https:\/\/fonts\.googleapis\.com\/[^"]*"[^>]*>/g;

/**
 * The policy the dashboard (Bull Board 9.10) works under, checked in a browser by
 * test/browser/board.test.ts: its scripts are files of our own origin (the one inline `<script>` is
 * a JSON data block, which CSP does not govern), so no inline script runs; its page has inline
 * `style` attributes and a `<style>` element, and its React code adds `<style>` elements at run
 * time (no nonce can reach them), hence 'unsafe-inline' for styles only. Its syntax highlighter is
 * a same-origin worker. Everything else is same-origin too; nothing may frame it.
 */
const CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  scriptSrcAttr: ["'none'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'"],
  connectSrc: ["'self'"],
  workerSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

const HELMET_OPTIONS: HelmetOptions = {
  // No upgrade-insecure-requests: the dashboard is also reached over plain HTTP inside the cluster.
  contentSecurityPolicy: { useDefaults: false, directives: CSP_DIRECTIVES },
  frameguard: { action: 'deny' },
  referrerPolicy: { policy: 'no-referrer' },
};

/**
 * helmet's headers for these options, worked out once. They depend on nothing in the request (no
 * nonces), and running helmet on each request re-parses its options every time: a tenth of the
 * enqueue API's time under load.
 */
export function securityHeaders(options: HelmetOptions = HELMET_OPTIONS): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const collector = {
    setHeader: (name: string, value: string | number): void => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string): void => void delete headers[name.toLowerCase()],
  };
  let done = false;
  helmet(options)({} as IncomingMessage, collector as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err;
    done = true;
  });
  if (!done) throw new Error('helmet did not set its headers synchronously');
  return Object.freeze(headers);
}

/**
 * Security headers on every answer, `Cache-Control: no-store` on data. Registered before any route.
 * Callback hooks, not async ones: they run on every request and have nothing to wait for.
 */
export function registerSecurityHeaders(app: FastifyInstance): void {
  const headers = securityHeaders();
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    if (NO_STORE_PATHS.test(request.url)) reply.header('cache-control', 'no-store');
    done();
  });
  app.addHook('onSend', (_request, reply, payload, done) => {
    const type = reply.getHeader('content-type');
    if (typeof payload !== 'string' || typeof type !== 'string' || !type.startsWith('text/html')) return done(null, payload);
    done(null, payload.replace(THIRD_PARTY_FONTS, ''));
  });
}
