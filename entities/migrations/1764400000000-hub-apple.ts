import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HubApple1764400000000 implements MigrationInterface {
  name = 'HubApple1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hub_apple_orphan (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        transaction_id VARCHAR(64) NOT NULL,
        original_transaction_id VARCHAR(64) NOT NULL,
        app_account_token VARCHAR(64) NULL,
        environment VARCHAR(16) NOT NULL,
        signed_date BIGINT NOT NULL,
        state JSON NOT NULL,
        status VARCHAR(16) NOT NULL DEFAULT 'PARKED',
        uid INT UNSIGNED NULL,
        applied_time DATETIME(3) NULL,
        created_time DATETIME(3) NOT NULL,
        updated_time DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uk_hub_apple_orphan_transaction_id (transaction_id),
        KEY idx_hub_apple_orphan_otid (original_transaction_id),
        KEY idx_hub_apple_orphan_token (app_account_token),
        KEY idx_hub_apple_orphan_status_id (status, id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='App Store transactions waiting for their user'`);
    await q.query(`
      CREATE TABLE hub_apple_subscription (
        original_transaction_id VARCHAR(64) NOT NULL,
        status INT UNSIGNED NOT NULL,
        apple_status INT UNSIGNED NULL,
        grace_expires_date DATETIME(3) NULL,
        signed_date BIGINT NOT NULL,
        updated_time DATETIME(3) NOT NULL,
        PRIMARY KEY (original_transaction_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='subscription state apple_order has no column for, and its ordering key'`);
    await q.query(`
      CREATE TABLE hub_apple_transaction (
        transaction_id VARCHAR(64) NOT NULL,
        signed_date BIGINT NOT NULL,
        updated_time DATETIME(3) NOT NULL,
        PRIMARY KEY (transaction_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='the newest state applied to each apple_order row'`);
    await q.query(`
      CREATE TABLE hub_apple_vip (
        uid INT UNSIGNED NOT NULL,
        written_vip_expired_at DATETIME NULL,
        foreign_floor DATETIME NULL,
        written_forever TINYINT NULL,
        foreign_forever TINYINT NOT NULL DEFAULT 0,
        updated_time DATETIME(3) NOT NULL,
        PRIMARY KEY (uid)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='user VIP values the hub last wrote, and the latest ones the app wrote'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE hub_apple_vip');
    await q.query('DROP TABLE hub_apple_transaction');
    await q.query('DROP TABLE hub_apple_subscription');
    await q.query('DROP TABLE hub_apple_orphan');
  }
}
