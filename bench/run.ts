import { migrate } from '../entities/migrate';
import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { benchPipeline } from './pipeline.bench';
import { formatTable, type BenchRow } from './table';

/** `npm run bench`: every scenario against its same-run baseline, printed as one table. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  // The hub's own tables (and the database itself) exist before anything connects, as on a worker's start.
  await migrate(config, createLogger({ level: 'warn' }));
  const rows: BenchRow[] = [];
  console.log('running: pipeline ...');
  rows.push(await benchPipeline(config));
  console.log(`\n${formatTable(rows)}\n`);
  for (const r of rows) if (r.notes) console.log(`- ${r.scenario}: ${r.notes}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
