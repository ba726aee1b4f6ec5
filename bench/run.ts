import { migrate } from '../entities/migrate';
import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { benchAppleNotifications } from './apple-notifications.bench';
import { benchCouponExpire } from './coupon-expire.bench';
import { benchGroupBuyClose } from './group-buy-close.bench';
import { benchShareAggregate } from './share-aggregate.bench';
import { benchPipeline } from './pipeline.bench';
import { benchReconcile } from './reconcile.bench';
import { benchRefunds } from './refunds.bench';
import { benchSms } from './sms.bench';
import { benchSchoolSync } from './school-sync.bench';
import { formatTable, type BenchRow } from './table';
import { runMain } from './run-main';

/**
 * `npm run bench`: every scenario against its same-run baseline, printed as one table.
 * `npm run bench -- reconcile` runs only the scenarios named.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger({ level: 'warn' });
  // The hub's own tables (and the database itself) exist before anything connects, as on a worker's start.
  await migrate(config, log);
  const only = new Set(process.argv.slice(2));
  const wanted = (name: string): boolean => only.size === 0 || only.has(name);
  const rows: BenchRow[] = [];
  if (wanted('pipeline')) {
    console.log('running: pipeline ...');
    rows.push(await benchPipeline(config));
  }
  if (wanted('reconcile')) {
    console.log('running: reconcile ...');
    rows.push(...(await benchReconcile(config, log)));
  }
  if (wanted('refunds')) {
    console.log('running: refunds ...');
    rows.push(await benchRefunds(config));
  }
  if (wanted('sms')) {
    console.log('running: sms ...');
    rows.push(...(await benchSms(config)));
  }
  if (wanted('coupons')) {
    console.log('running: coupons ...');
    rows.push(...(await benchCouponExpire(config)));
  }
  if (wanted('share')) {
    console.log('running: share ...');
    rows.push(...(await benchShareAggregate(config)));
  }
  if (wanted('apple')) {
    console.log('running: apple ...');
    rows.push(await benchAppleNotifications(config));
  }
  if (wanted('group-buy')) {
    console.log('running: group-buy ...');
    rows.push(...(await benchGroupBuyClose(config)));
  }
  if (wanted('school')) {
    console.log('running: school ...');
    rows.push(...(await benchSchoolSync(config)));
  }
  console.log(`\n${formatTable(rows)}\n`);
  for (const r of rows) if (r.notes) console.log(`- ${r.scenario}: ${r.notes}`);
}

runMain(main);
