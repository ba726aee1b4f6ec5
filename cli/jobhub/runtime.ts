import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../entities/data-source';
import { recordAudit, type AuditEntry } from '../../entities/hub/hub-audit.entity';
import { ConfigError } from '../../lib/errors';
import { loadConfig, type Config } from '../../lib/config';
import { closeRedis, createRedis, waitForRedis, type RedisConnection } from '../../lib/redis';
import { hubRedisKeys } from '../../lib/redis-keys';
import { QueueSet } from '../../workers/queues';
import { CliError, EXIT } from './exit';

/** Reads `.env` once, as the hub's processes do: variables already set win. */
export function loadDotEnv(): void {
  if (existsSync('.env')) process.loadEnvFile('.env');
}

/** The person running the command, as the audit trail names them. */
export function cliActor(): string {
  const fromEnv = process.env.USER?.trim();
  if (fromEnv) return fromEnv;
  try {
    return userInfo().username;
  } catch {
    return '(unknown)';
  }
}

/**
 * The hub's configuration, as its processes read it, less HUB_USERS_FILE: no command logs anyone in,
 * and `users add` creates or mends that file, so a missing or malformed one must stop none of them.
 */
export function cliConfig(): Config {
  const env = { ...process.env };
  delete env.HUB_USERS_FILE;
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(EXIT.failed, `invalid configuration\n${err.problems.map((p) => `  - ${p}`).join('\n')}`);
    throw err;
  }
}

/** Redis and MySQL opened on first use and closed together at the end of the command. */
export class Connections {
  private redis: RedisConnection | null = null;
  private queueSet: QueueSet | null = null;
  private db: DataSource | null = null;

  constructor(readonly config: Config) {}

  async queues(): Promise<QueueSet> {
    if (!this.queueSet) {
      this.redis = createRedis(this.config.redis, 'producer', 'jobhub-cli');
      this.queueSet = new QueueSet(this.redis, hubRedisKeys(this.config.redis));
      await waitForRedis(this.redis);
    }
    return this.queueSet;
  }

  async dataSource(): Promise<DataSource> {
    this.db ??= await createDataSource(this.config);
    return this.db;
  }

  /**
   * One hub_audit row for a write, after it. The write has happened either way, so a row that
   * cannot be written is reported on stderr without changing the command's exit code.
   */
  async audit(entry: Omit<AuditEntry, 'actor' | 'actorKind'>): Promise<void> {
    try {
      await recordAudit(await this.dataSource(), { ...entry, actor: cliActor(), actorKind: 'cli' });
    } catch (err) {
      process.stderr.write(`jobhub: warning: audit row not written: ${(err as Error).message}\n`);
    }
  }

  async close(): Promise<void> {
    await this.queueSet?.close().catch(() => undefined);
    if (this.redis) await closeRedis(this.redis).catch(() => undefined);
    if (this.db?.isInitialized) await this.db.destroy().catch(() => undefined);
  }
}

/** Runs `work` with connections from the hub's config, closing them however it ends. */
export async function withConnections<T>(work: (c: Connections) => Promise<T>): Promise<T> {
  const connections = new Connections(cliConfig());
  try {
    return await work(connections);
  } finally {
    await connections.close();
  }
}
