-- Seed 002, GORM model Notify (统一通知记录表), as GORM creates it on MySQL.
CREATE TABLE IF NOT EXISTS `notifies` (
  `id` bigint unsigned NOT NULL AUTO_INCREMENT,
  `notify_id` varchar(50) NOT NULL,
  `project_id` varchar(50) NOT NULL,
  `user_id` varchar(50) NOT NULL,
  `type` bigint DEFAULT NULL COMMENT '通知类型 1:站内信 2:邮件 3:短信',
  `title` varchar(200) NOT NULL,
  `content` text NOT NULL,
  `status` bigint DEFAULT 0 COMMENT '状态 0:待发送 1:已发送 2:发送失败',
  `send_time` datetime(3) DEFAULT NULL,
  `error_msg` text,
  `created_at` datetime(3) DEFAULT NULL,
  `updated_at` datetime(3) DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `idx_notifies_notify_id` (`notify_id`),
  KEY `idx_notifies_project_id` (`project_id`),
  KEY `idx_notifies_user_id` (`user_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
