import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { track } from './resources';

export interface TcpProxy {
  readonly port: number;
  /** Drops every open connection and refuses new ones: the service "goes away" for clients of the proxy only. */
  cut(): Promise<void>;
  /** Accepts connections again on the same port; nothing when it already does. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy to a shared service, so a test can take the service away from its own
 * clients without touching what other test files use.
 */
export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;

  const listen = async (): Promise<void> => {
    const next = createServer((client) => {
      const upstream = createConnection({ host: targetHost, port: targetPort });
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on('close', () => sockets.delete(s));
        s.on('error', () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      next.once('error', reject);
      next.listen(port, '127.0.0.1', () => resolve());
    });
    const address = next.address();
    if (typeof address === 'object' && address) port = address.port;
    server = next;
  };

  const stop = async (): Promise<void> => {
    const current = server;
    server = null;
    for (const s of sockets) s.destroy();
    if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  await listen();
  const proxy: TcpProxy = {
    get port() {
      return port;
    },
    cut: stop,
    restore: async () => {
      if (!server) await listen();
    },
    close: stop,
  };
  track({ kind: 'closable', label: `tcp proxy :${port}`, value: { isOpen: () => server !== null } });
  return proxy;
}
