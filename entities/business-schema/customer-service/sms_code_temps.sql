-- Seed 002, GORM model SMSCodeTemp (短信验证码临时存储), as GORM creates it on MySQL.
CREATE TABLE IF NOT EXISTS `sms_code_temps` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `phone` varchar(20) NOT NULL,
  `code` varchar(10) NOT NULL,
  `type` bigint DEFAULT NULL COMMENT '验证码类型',
  `expire_time` datetime(3) NOT NULL,
  `used` tinyint(1) DEFAULT 0 COMMENT '是否已使用',
  `created_at` datetime(3) DEFAULT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_sms_code_temps_phone` (`phone`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
