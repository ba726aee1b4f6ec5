-- Seed 001, event_session 活动场次表 (lengths where the seed gives none are the hub's working choice), with the index event-remind-sessions reads by.
CREATE TABLE IF NOT EXISTS `event_session` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `member_id` bigint DEFAULT NULL COMMENT '会员id',
  `event_id` bigint DEFAULT NULL COMMENT '活动id',
  `start_time` datetime DEFAULT NULL COMMENT '开始时间',
  `end_time` datetime DEFAULT NULL COMMENT '结束时间',
  `applicable_store_ids` varchar(1024) DEFAULT NULL,
  `place_type` varchar(32) DEFAULT NULL COMMENT 'STORE 为酒店ID集合 其他为默认字符串',
  `quota` int DEFAULT NULL COMMENT '限额',
  `latitude` varchar(32) DEFAULT NULL COMMENT '维度',
  `longitude` varchar(32) DEFAULT NULL COMMENT '精度',
  `address` varchar(255) DEFAULT NULL COMMENT '地址',
  `created_time` datetime DEFAULT NULL COMMENT '创建时间',
  `updated_time` datetime DEFAULT NULL COMMENT '更新时间',
  `deleted` tinyint DEFAULT 0 COMMENT '删除标记',
  PRIMARY KEY (`id`),
  KEY `idx_event_session_start` (`start_time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='活动场次表';
