import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HubAlert1764800000000 implements MigrationInterface {
  name = 'HubAlert1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hub_alert (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        raised_at DATETIME(3) NOT NULL,
        kind VARCHAR(64) NOT NULL,
        message VARCHAR(500) NOT NULL,
        details JSON NULL,
        job_name VARCHAR(100) NULL,
        job_id VARCHAR(512) NULL,
        dedupe_key CHAR(64) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uk_hub_alert_dedupe_key (dedupe_key),
        KEY idx_hub_alert_raised_at (raised_at, id),
        KEY idx_hub_alert_kind (kind, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='alerts raised for ops, one row per alert however often a retry raises it'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE hub_alert');
  }
}
