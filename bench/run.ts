import { migrate } from '../entities/schema/migrate';
import { loadConfigOrExit, type Config } from '../lib/config';
import { createLogger, type Logger } from '../lib/logger';
import { benchAppleNotifications } from './apple-notifications.bench';
import { benchCouponExpire } from './coupon-expire.bench';
import { benchEnqueueApi } from './enqueue-api.bench';
import { benchGroupBuyClose } from './group-buy-close.bench';
import { benchShareAggregate } from './share-aggregate.bench';
import { benchPipeline } from './pipeline.bench';
import { benchReconcile } from './reconcile.bench';
import { benchRedisTopologies } from './redis-topologies.bench';
import { benchRefunds } from './refunds.bench';
import { benchSms } from './sms.bench';
import { benchSchoolSync } from './school-sync.bench';
import { formatTable, type BenchRow } from './table';
import { runMain } from './run-main';

type Scenario = (config: Config, log: Logger) => Promise<BenchRow | BenchRow[]>;

/** Every scenario by the name `npm run bench -- <name>` takes, in the order a full run takes them. */
const SCENARIOS: Record<string, Scenario> = {
  pipeline: benchPipeline,
  redis: benchRedisTopologies,
  api: benchEnqueueApi,
  reconcile: benchReconcile,
  refunds: benchRefunds,
  sms: benchSms,
  coupons: benchCouponExpire,
  share: benchShareAggregate,
  apple: benchAppleNotifications,
  'group-buy': benchGroupBuyClose,
  school: benchSchoolSync,
};

/**
 * `npm run bench`: every scenario against its same-run baseline, printed as one table.
 * `npm run bench -- reconcile` runs only the scenarios named; an unknown name runs nothing and says so.
 */
async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const unknown = only.filter((name) => !(name in SCENARIOS));
  if (unknown.length > 0) {
    console.error(`unknown benchmark: ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
    process.exitCode = 2;
    return;
  }
  const config = loadConfigOrExit();
  const log = createLogger({ level: 'warn' });
  // The hub's own tables (and the database itself) exist before anything connects, as on a worker's start.
  await migrate(config, log);
  const rows: BenchRow[] = [];
  for (const [name, scenario] of Object.entries(SCENARIOS)) {
    if (only.length > 0 && !only.includes(name)) continue;
    console.log(`running: ${name} ...`);
    rows.push(...[await scenario(config, log)].flat());
  }
  console.log(`\n${formatTable(rows)}\n`);
  for (const r of rows) if (r.notes) console.log(`- ${r.scenario}: ${r.notes}`);
}

runMain(main);
