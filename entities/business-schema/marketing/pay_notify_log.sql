-- Seed 001 names pay_notify_log without columns: the working columns of the hub's design, deduplicated by notification id.
CREATE TABLE IF NOT EXISTS `pay_notify_log` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `channel` varchar(16) NOT NULL COMMENT 'WECHAT | APPLE',
  `merchant` varchar(64) NOT NULL COMMENT 'mchid / bundle id',
  `notify_id` varchar(64) NOT NULL,
  `event_type` varchar(64) NOT NULL,
  `out_trade_no` varchar(64) DEFAULT NULL,
  `out_refund_no` varchar(64) DEFAULT NULL,
  `transaction_id` varchar(64) DEFAULT NULL,
  `raw_body` mediumtext NOT NULL,
  `verified` tinyint NOT NULL DEFAULT '0',
  `handled` tinyint NOT NULL DEFAULT '0',
  `error` varchar(1000) DEFAULT NULL,
  `created_time` datetime NOT NULL,
  `updated_time` datetime NOT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_pay_notify_log_notify_id` (`notify_id`),
  KEY `idx_pay_notify_log_pending` (`verified`,`handled`,`id`),
  KEY `idx_pay_notify_log_out_trade_no` (`out_trade_no`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='支付回调日志';
