-- Seed 002, GORM model SMS (短信发送记录), as GORM creates it on MySQL.
CREATE TABLE IF NOT EXISTS `sms` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `sms_id` varchar(50) NOT NULL,
  `phone` varchar(20) NOT NULL,
  `template_id` varchar(50) NOT NULL,
  `params` text COMMENT '模板参数JSON',
  `content` text NOT NULL COMMENT '实际发送内容',
  `status` bigint DEFAULT 0 COMMENT '状态 0:待发送 1:已发送 2:发送失败',
  `send_time` datetime(3) DEFAULT NULL,
  `error_msg` text,
  `created_at` datetime(3) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `idx_sms_sms_id` (`sms_id`),
  KEY `idx_sms_phone` (`phone`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
