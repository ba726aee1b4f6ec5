import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config, SystemName } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { projectRoot } from '../../lib/paths';
import { ensureDatabases, withServerConnection } from './mysql-server';

/** business-schema/<folder>/<table>.sql: the folder names the system, as under entities/. */
const FOLDER_SYSTEMS: Record<string, SystemName> = {
  marketing: 'marketing',
  app: 'app',
  'customer-service': 'customerService',
  dms: 'dms',
};

export function businessSchemaDir(): string {
  return join(projectRoot(), 'entities', 'business-schema');
}

/**
 * Creates the business tables the hub uses, each in its system's database, where they do not exist.
 * For development, tests and the demo only: in production these tables belong to their systems.
 */
export async function applyBusinessSchema(config: Pick<Config, 'mysql'>, log: Logger): Promise<string[]> {
  await ensureDatabases(config.mysql);
  const applied: string[] = [];
  await withServerConnection(config.mysql, async (conn) => {
    for (const [folder, system] of Object.entries(FOLDER_SYSTEMS)) {
      const dir = join(businessSchemaDir(), folder);
      const files = readdirSafe(dir).filter((f) => f.endsWith('.sql')).sort();
      const database = config.mysql.databases[system];
      for (const file of files) {
        await conn.query(`USE \`${database}\``);
        await conn.query(readFileSync(join(dir, file), 'utf8'));
        applied.push(`${database}.${file.replace(/\.sql$/, '')}`);
      }
    }
  });
  log.info({ tables: applied.length }, 'business schema applied');
  return applied;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
