-- Seed 001, member_child_info 推荐人和下线的关系表, with the index share-aggregate updates by.
CREATE TABLE IF NOT EXISTS `member_child_info` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `child_member_id` bigint(20) DEFAULT NULL COMMENT '下线ID',
  `member_id` bigint(20) DEFAULT NULL COMMENT '推荐人ID',
  `resource_id` varchar(255) DEFAULT NULL COMMENT '资源ID',
  `root_member_id` bigint(20) DEFAULT NULL COMMENT '根推荐人ID',
  `from_member_ids` varchar(1000) DEFAULT NULL COMMENT '推荐人链路 在前面添加 A->B,A->C,B,A',
  `child_member_share_count` int(11) DEFAULT NULL COMMENT '下线分享次数',
  `child_member_open_count` int(11) DEFAULT NULL COMMENT '下线打开次数',
  `child_member_count` int(11) DEFAULT NULL COMMENT '带来下线数',
  `child_member_save_info_count` int(11) DEFAULT NULL COMMENT '留资人数',
  `created_time` datetime DEFAULT NULL COMMENT '创建时间',
  `updated_time` datetime DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`id`),
  KEY `idx_member_child_info_child_resource` (`child_member_id`, `resource_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='推荐人和下线的关系表';
