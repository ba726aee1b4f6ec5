import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HubCanary1764000000000 implements MigrationInterface {
  name = 'HubCanary1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hub_canary (
        canary_key VARCHAR(100) NOT NULL,
        job_id VARCHAR(200) NOT NULL,
        attempt INT UNSIGNED NOT NULL,
        created_time DATETIME(3) NOT NULL,
        PRIMARY KEY (canary_key)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='end-to-end checks: one row per canary key'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE hub_canary');
  }
}
