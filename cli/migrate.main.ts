import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { migrate } from '../entities/schema/migrate';

/** `npm run migrate` and the Procfile's release step: the hub's own tables. */
const config = loadConfigOrExit();
const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { proc: 'migrate' } });
migrate(config, log).then(
  () => process.exit(0),
  (err: unknown) => {
    log.error({ err }, 'migration failed');
    process.exit(1);
  },
);
