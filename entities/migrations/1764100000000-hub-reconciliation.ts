import type { MigrationInterface, QueryRunner } from 'typeorm';

export class HubReconciliation1764100000000 implements MigrationInterface {
  name = 'HubReconciliation1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hub_reconciliation_run (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        channel VARCHAR(16) NOT NULL,
        merchant VARCHAR(64) NOT NULL,
        bill_date DATE NOT NULL,
        status VARCHAR(16) NOT NULL,
        bill_rows INT UNSIGNED NOT NULL DEFAULT 0,
        bill_payment_count INT UNSIGNED NOT NULL DEFAULT 0,
        bill_payment_total BIGINT NOT NULL DEFAULT 0,
        bill_refund_count INT UNSIGNED NOT NULL DEFAULT 0,
        bill_refund_total BIGINT NOT NULL DEFAULT 0,
        local_payment_count INT UNSIGNED NOT NULL DEFAULT 0,
        local_payment_total BIGINT NOT NULL DEFAULT 0,
        local_refund_count INT UNSIGNED NOT NULL DEFAULT 0,
        local_refund_total BIGINT NOT NULL DEFAULT 0,
        discrepancy_count INT UNSIGNED NOT NULL DEFAULT 0,
        auto_fixed_count INT UNSIGNED NOT NULL DEFAULT 0,
        bill_hash VARCHAR(64) NULL,
        job_id VARCHAR(200) NULL,
        error VARCHAR(1000) NULL,
        started_time DATETIME(3) NOT NULL,
        finished_time DATETIME(3) NULL,
        created_time DATETIME(3) NOT NULL,
        updated_time DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        UNIQUE KEY uk_hub_reconciliation_run_day (channel, merchant, bill_date),
        KEY idx_hub_reconciliation_run_date (bill_date)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='one bill reconciliation per channel, merchant and Beijing date'`);
    await q.query(`
      CREATE TABLE hub_reconciliation_item (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        run_id BIGINT UNSIGNED NULL,
        source VARCHAR(16) NOT NULL,
        kind VARCHAR(32) NOT NULL,
        merchant VARCHAR(64) NULL,
        out_trade_no VARCHAR(64) NOT NULL,
        out_refund_no VARCHAR(64) NULL,
        transaction_id VARCHAR(64) NULL,
        local_table VARCHAR(32) NULL,
        wechat_amount BIGINT NULL,
        local_amount BIGINT NULL,
        wechat_status VARCHAR(32) NULL,
        local_status VARCHAR(32) NULL,
        auto_fix VARCHAR(32) NULL,
        dedupe_key VARCHAR(191) NULL,
        created_time DATETIME(3) NOT NULL,
        PRIMARY KEY (id),
        KEY idx_hub_reconciliation_item_run_kind (run_id, kind, id),
        UNIQUE KEY uk_hub_reconciliation_item_dedupe (dedupe_key),
        KEY idx_hub_reconciliation_item_out_trade_no (out_trade_no)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='discrepancies found by reconciliation, both sides'' values'`);
    await q.query(`
      CREATE TABLE hub_reconciliation_bill_row (
        run_id BIGINT UNSIGNED NOT NULL,
        line_no INT UNSIGNED NOT NULL,
        trade_state VARCHAR(32) NOT NULL,
        out_trade_no VARCHAR(64) NOT NULL,
        transaction_id VARCHAR(64) NOT NULL,
        out_refund_no VARCHAR(64) NOT NULL DEFAULT '',
        order_amount BIGINT NOT NULL,
        refund_amount BIGINT NOT NULL,
        refund_status VARCHAR(32) NOT NULL DEFAULT '',
        PRIMARY KEY (run_id, out_trade_no, line_no)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='a bill being reconciled; emptied when its run ends'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE hub_reconciliation_bill_row');
    await q.query('DROP TABLE hub_reconciliation_item');
    await q.query('DROP TABLE hub_reconciliation_run');
  }
}
