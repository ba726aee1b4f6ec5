import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HubAudit1764700000000 implements MigrationInterface {
  name = 'HubAudit1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hub_audit (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        occurred_at DATETIME(3) NOT NULL,
        actor VARCHAR(200) NOT NULL,
        actor_kind VARCHAR(8) NOT NULL,
        role VARCHAR(200) NULL,
        action VARCHAR(64) NOT NULL,
        queue VARCHAR(64) NULL,
        job_ids JSON NULL,
        business_key VARCHAR(255) NULL,
        source_address VARCHAR(64) NULL,
        outcome VARCHAR(8) NOT NULL,
        status_code SMALLINT UNSIGNED NULL,
        detail JSON NULL,
        PRIMARY KEY (id),
        KEY idx_hub_audit_occurred_at (occurred_at, id),
        KEY idx_hub_audit_actor (actor, id),
        KEY idx_hub_audit_action (action, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='who asked the hub for which write, and how it ended'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE hub_audit');
  }
}
