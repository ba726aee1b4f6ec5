-- Seed 001 names group_buy_event_rule 拼课团规则表 without columns: the working columns of the hub's design.
CREATE TABLE IF NOT EXISTS `group_buy_event_rule` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `group_buy_event_id` bigint NOT NULL,
  `team_size` int NOT NULL,
  `robot_enabled` tinyint NOT NULL DEFAULT 0,
  `robot_fill_minutes_before_expire` int NOT NULL DEFAULT 0,
  `max_robots_per_team` int NOT NULL DEFAULT 0,
  `refund_on_fail` tinyint NOT NULL DEFAULT 1,
  `created_time` datetime DEFAULT NULL,
  `updated_time` datetime DEFAULT NULL,
  `deleted` tinyint NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  KEY `idx_group_buy_event_rule_event` (`group_buy_event_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='拼课团规则表';
