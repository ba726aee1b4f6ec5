-- Seed 002, GORM model EmailRecord (邮件发送记录), as GORM creates it on MySQL. `to` is a reserved word.
CREATE TABLE IF NOT EXISTS `email_records` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `email_id` varchar(50) NOT NULL,
  `to` varchar(200) NOT NULL,
  `cc` varchar(500) DEFAULT NULL,
  `subject` varchar(200) NOT NULL,
  `content` text NOT NULL,
  `status` bigint DEFAULT 0 COMMENT '状态 0:待发送 1:已发送 2:发送失败',
  `send_time` datetime(3) DEFAULT NULL,
  `error_msg` text,
  `created_at` datetime(3) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `idx_email_records_email_id` (`email_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
