import type { Config } from '../lib/config';

/** The same server, another database for every system: a bench never touches the development tables. */
export function withDatabase(config: Config, database: string): Config {
  const databases = { marketing: database, app: database, customerService: database, customer: database, hub: database };
  return { ...config, mysql: { ...config.mysql, database, databases, url: config.mysql.url.replace(/\/[A-Za-z0-9_]+$/, `/${database}`) } };
}
