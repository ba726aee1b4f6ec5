import { startClockRole } from '../workers/clock';
import { runProcess } from '../workers/process';
import { startWorkerRole } from '../workers/worker-role';
import { seedDemo } from './demo/demo';
import { seedMarketingDemo } from './demo/demo-marketing';
import { seedMessagingDemo } from './demo/demo-messaging';
import { seedSchoolDemo } from './demo/demo-school';
import { startWebRole } from './web';

/**
 * `npm start`: web, worker and clock in one process, sharing one data source and one producer
 * connection. The embedded default for a laptop or a small site; larger ones run the three apart.
 * On shutdown the three stop together: workers stop fetching at once and hand back what they cannot finish.
 */
runProcess('hub', async (runtime, config, log) => {
  const worker = startWorkerRole(runtime, config, log);
  const clock = startClockRole(runtime, config, log);
  const web = await startWebRole(runtime, config, log);
  const emulator = runtime.integrations.emulators.wechatPay;
  if (config.demoData && emulator) {
    await seedDemo({
      db: runtime.db,
      emulator,
      mchid: config.wechatPay.mchid,
      appid: config.wechatPay.appid,
      enqueue: runtime.enqueue,
      log: log.child({ component: 'demo' }),
      apple: runtime.integrations.emulators.apple,
    });
    await seedMessagingDemo({ db: runtime.db, config, integrations: runtime.integrations, enqueue: runtime.enqueue, log: log.child({ component: 'demo' }) });
    await seedMarketingDemo({ db: runtime.db, integrations: runtime.integrations, enqueue: runtime.enqueue, log: log.child({ component: 'demo' }) });
    await seedSchoolDemo({ db: runtime.db, integrations: runtime.integrations, enqueue: runtime.enqueue, log: log.child({ component: 'demo' }) });
  }
  return [clock, web, worker];
});
