import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HubOutboxAndCursor1763900000000 implements MigrationInterface {
  name = 'HubOutboxAndCursor1763900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hub_outbox (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        job_name VARCHAR(100) NOT NULL COMMENT 'a job name of the catalogue',
        payload JSON NOT NULL,
        run_at DATETIME(3) NULL COMMENT 'not before this time; NULL: at once',
        status VARCHAR(16) NOT NULL DEFAULT 'PENDING' COMMENT 'PENDING | ENQUEUED | FAILED',
        job_id VARCHAR(200) NULL,
        attempts INT UNSIGNED NOT NULL DEFAULT 0,
        last_error VARCHAR(1000) NULL,
        created_time DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_time DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        KEY idx_hub_outbox_status_run_at (status, run_at, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='jobs other systems enqueue in their own transaction'`);
    await q.query(`
      CREATE TABLE hub_cursor (
        name VARCHAR(100) NOT NULL,
        position VARCHAR(255) NOT NULL,
        updated_time DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (name)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='watermarks moved with their effects'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE hub_cursor');
    await q.query('DROP TABLE hub_outbox');
  }
}
