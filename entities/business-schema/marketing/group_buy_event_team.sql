-- Seed 001 names group_buy_event_team 拼课团团队表 without columns: the working columns of the hub's design.
CREATE TABLE IF NOT EXISTS `group_buy_event_team` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `group_buy_event_id` bigint NOT NULL,
  `organization_id` bigint DEFAULT NULL,
  `leader_member_id` bigint DEFAULT NULL,
  `leader_order_id` bigint DEFAULT NULL,
  `size` int NOT NULL,
  `joined_count` int NOT NULL DEFAULT 0,
  `robot_count` int NOT NULL DEFAULT 0,
  `status` varchar(32) NOT NULL,
  `expire_time` datetime DEFAULT NULL,
  `success_time` datetime DEFAULT NULL,
  `closed_time` datetime DEFAULT NULL,
  `created_time` datetime DEFAULT NULL,
  `updated_time` datetime DEFAULT NULL,
  `deleted` tinyint NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  KEY `idx_group_buy_event_team_status_expire` (`status`, `expire_time`),
  KEY `idx_group_buy_event_team_status_closed` (`status`, `closed_time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='拼课团团队表';
