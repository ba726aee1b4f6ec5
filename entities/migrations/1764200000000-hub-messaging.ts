import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HubMessaging1764200000000 implements MigrationInterface {
  name = 'HubMessaging1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hub_message_delivery (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        delivery_key VARCHAR(191) NOT NULL,
        channel VARCHAR(24) NOT NULL,
        recipient VARCHAR(700) NOT NULL,
        status VARCHAR(16) NOT NULL DEFAULT 'PENDING',
        job_name VARCHAR(100) NOT NULL,
        job_id VARCHAR(200) NULL,
        payload JSON NOT NULL,
        record_id VARCHAR(50) NULL,
        notify_id VARCHAR(50) NULL,
        provider VARCHAR(16) NULL,
        provider_message_id VARCHAR(200) NULL,
        attempts INT UNSIGNED NOT NULL DEFAULT 0,
        error_code VARCHAR(64) NULL,
        error VARCHAR(1000) NULL,
        receipt_status VARCHAR(16) NULL,
        receipt_code VARCHAR(64) NULL,
        receipt_time DATETIME(3) NULL,
        sending_time DATETIME(3) NULL,
        sent_time DATETIME(3) NULL,
        created_time DATETIME(3) NOT NULL,
        updated_time DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uk_hub_message_delivery_key (delivery_key),
        KEY idx_hub_message_delivery_status_id (status, id),
        KEY idx_hub_message_delivery_provider_message (provider, provider_message_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='one outgoing message, recorded before the vendor is called'`);
    await q.query(`
      CREATE TABLE hub_sms_template (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        template_key VARCHAR(64) NOT NULL,
        content VARCHAR(1000) NOT NULL,
        aliyun_template_code VARCHAR(64) NULL,
        aliyun_sign_name VARCHAR(64) NULL,
        aliyun_params JSON NULL,
        tencent_template_id VARCHAR(64) NULL,
        tencent_sign_name VARCHAR(64) NULL,
        tencent_params JSON NULL,
        enabled TINYINT NOT NULL DEFAULT 1,
        created_time DATETIME(3) NOT NULL,
        updated_time DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uk_hub_sms_template_key (template_key)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='SMS templates by key, as each vendor approved them'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE hub_sms_template');
    await q.query('DROP TABLE hub_message_delivery');
  }
}
