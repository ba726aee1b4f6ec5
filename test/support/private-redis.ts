import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { closeRedis, createRedis, waitForRedis } from '../../lib/redis';
import { QueueSet } from '../../workers/queues';
import { track } from './resources';

export interface PrivateRedis {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops the server (connections see it go away, as in an outage); `start` brings it back on the same port. */
  stop(): Promise<void>;
  /** Starts it again (empty, unless durable) and resolves once it answers PING. */
  start(): Promise<void>;
  /** Stops it for good; call it in afterAll. */
  close(): Promise<void>;
  /** Whether the server process is up. */
  isRunning(): boolean;
}

/** A port nobody listens on right now: the OS picks it, we release it for redis-server. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Signals a server of the test's own and resolves once it has exited; nothing when it is not running. */
export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  await exited;
}

/**
 * Starts a server on a port picked free: the port was free a moment ago, but another process may
 * take it first, so a failed start picks again (three tries). Resolves with the port it runs on.
 */
export async function onFreePort(start: (port: number) => Promise<void>): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await start(port);
      return port;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function answersPing(port: number): Promise<boolean> {
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    // quit, not disconnect: ioredis keeps a 2 s timer for a dropped socket, which would hold jest open.
    await closeRedis(probe);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface PrivateRedisOptions {
  /** Keeps every write in an append-only file fsynced at once, as production Redis should: a restart loses nothing. */
  durable?: boolean;
  /** More redis-server arguments (`--replicaof 127.0.0.1 <port>`). */
  args?: readonly string[];
}

/**
 * A redis-server of the test's own, for outages: the shared Redis is never stopped, since other
 * test files use it at the same time. Needs `redis-server` on PATH; keeps data on disk (its own
 * directory, removed on close) only when durable.
 */
export async function startPrivateRedis(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  // A directory of its own even when nothing is meant to be kept: a replica's full sync writes an
  // RDB there, which any later server started in the same directory would load (and a cluster node
  // would claim the slots of its keys).
  const dataDir = mkdtempSync(join(tmpdir(), 'jobhub-redis-'));
  const persistence = options.durable ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dataDir] : ['--appendonly', 'no', '--dir', dataDir];
  let child: ChildProcess | undefined;
  let output = '';
  let port = 0;
  const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null;

  const launch = async (): Promise<void> => {
    if (running()) return;
    output = '';
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence, ...(options.args ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    proc.once('error', (err) => (output += `\n${err.message}`));
    child = proc;
    for (let waited = 0; waited < 10_000; waited += 50) {
      if (!running()) throw new Error(`redis-server on port ${port} exited at start:\n${output}`);
      if (await answersPing(port)) return;
      await sleep(50);
    }
    await halt();
    throw new Error(`redis-server on port ${port} did not answer within 10 s:\n${output}`);
  };

  const halt = (): Promise<void> => stopChild(child, 'SIGKILL');

  port = await onFreePort(async (free) => {
    port = free;
    await launch();
  });
  const url = `redis://127.0.0.1:${port}`;
  track({ kind: 'closable', label: `redis-server :${port}`, value: { isOpen: running } });
  const close = async (): Promise<void> => {
    await halt();
    rmSync(dataDir, { recursive: true, force: true });
  };
  return { url, port, stop: halt, start: launch, close, isRunning: running };
}

/** A private Redis with the hub's producer connection and queues on it, as a process would hold them. */
export interface PrivateQueueStore {
  readonly server: PrivateRedis;
  readonly producer: Redis;
  readonly queues: QueueSet;
  /** Closes the queues, the connection and the server. */
  close(): Promise<void>;
}

export async function openPrivateQueueStore(prefix: string, options: PrivateRedisOptions = {}): Promise<PrivateQueueStore> {
  const server = await startPrivateRedis(options);
  const producer = track({ kind: 'redis', value: createRedis(server.url, 'producer', 'jobhub-test') });
  await waitForRedis(producer);
  const queues = new QueueSet(producer, prefix);
  return {
    server,
    producer,
    queues,
    async close() {
      await queues.close();
      await closeRedis(producer);
      await server.close();
    },
  };
}
