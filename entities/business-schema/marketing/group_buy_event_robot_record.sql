-- Seed 001 names group_buy_event_robot_record 拼课团机器人记录表 without columns: the working columns of the hub's design, with the unique key that keeps a robot from joining one team twice.
CREATE TABLE IF NOT EXISTS `group_buy_event_robot_record` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `group_buy_event_id` bigint NOT NULL,
  `group_buy_event_team_id` bigint NOT NULL,
  `robot_id` bigint NOT NULL,
  `group_buy_event_order_id` bigint DEFAULT NULL,
  `created_time` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_group_buy_event_robot_record_team_robot` (`group_buy_event_team_id`, `robot_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='拼课团机器人记录表';
