-- Seed 001 names group_buy_event_robot 拼课团机器人表 without columns: the working columns of the hub's design.
CREATE TABLE IF NOT EXISTS `group_buy_event_robot` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `organization_id` bigint DEFAULT NULL,
  `name` varchar(64) NOT NULL,
  `head_url` varchar(512) DEFAULT NULL,
  `enabled` tinyint NOT NULL DEFAULT 1,
  `created_time` datetime DEFAULT NULL,
  `updated_time` datetime DEFAULT NULL,
  `deleted` tinyint NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='拼课团机器人表';
