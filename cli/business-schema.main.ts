import { loadConfigOrExit } from '../lib/config';
import { createLogger } from '../lib/logger';
import { applyBusinessSchema } from '../entities/schema/apply-business-schema';

/** `npm run db:business-schema`: the business tables, for development, tests and the demo only. */
const config = loadConfigOrExit();
const log = createLogger({ level: config.log.level, pretty: config.log.pretty, base: { proc: 'business-schema' } });
if (config.env === 'production') {
  log.error('refused: in production the business tables belong to their systems');
  process.exit(1);
}
applyBusinessSchema(config, log).then(
  () => process.exit(0),
  (err: unknown) => {
    log.error({ err }, 'applying the business schema failed');
    process.exit(1);
  },
);
