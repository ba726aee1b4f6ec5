-- Seed 001, feeder_school (直属学校表). The seed gives no keys: the unique key on third_id is the hub's addition, the key school-sync upserts by.
CREATE TABLE IF NOT EXISTS `feeder_school` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `third_id` bigint(20) DEFAULT NULL,
  `name` varchar(255) DEFAULT NULL COMMENT '学校名',
  `province` varchar(64) DEFAULT NULL COMMENT '省份',
  `city` varchar(64) DEFAULT NULL COMMENT '城市',
  `address` varchar(255) DEFAULT NULL COMMENT '地址',
  `status` tinyint(4) DEFAULT NULL,
  `third_modify_id` bigint(20) DEFAULT NULL,
  `third_modify_name` varchar(255) DEFAULT NULL,
  `created_time` datetime DEFAULT NULL COMMENT '创建时间',
  `updated_time` datetime DEFAULT NULL COMMENT '更新时间',
  `deleted` tinyint(4) DEFAULT '0' COMMENT '删除标记',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_feeder_school_third_id` (`third_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='直属学校表';
