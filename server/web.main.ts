import { runProcess } from '../workers/process';
import { startWebRole } from './web';

/** The web process: enqueue API, dashboard, health and metrics on HUB_PORT. */
runProcess('web', async (runtime, config, log) => [await startWebRole(runtime, config, log)]);
