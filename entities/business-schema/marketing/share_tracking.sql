-- Seed 001, share_tracking (传播记录).
CREATE TABLE IF NOT EXISTS `share_tracking` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `organization_id` bigint(20) DEFAULT NULL COMMENT '组织id',
  `member_id` bigint(20) DEFAULT NULL COMMENT '会员ID',
  `resource_type` varchar(255) DEFAULT NULL COMMENT '资源类型',
  `resource_id` varchar(255) DEFAULT NULL COMMENT '资源id',
  `type` varchar(255) DEFAULT NULL COMMENT '传播类型：SHARE分享、触达REACH',
  `store_org_id` bigint(20) DEFAULT NULL COMMENT '门店组织ID',
  `channel` varchar(255) DEFAULT NULL COMMENT '渠道',
  `from_member_ids` varchar(255) DEFAULT NULL COMMENT '分享的会员ID集合',
  `depth` int(11) DEFAULT NULL COMMENT '深度',
  `browse_time` datetime DEFAULT NULL COMMENT '首次浏览时间',
  `from_ids` varchar(5000) DEFAULT NULL COMMENT '父节点集合',
  `from_id` bigint(20) DEFAULT NULL COMMENT '上一个资源链接',
  `root_id` bigint(20) DEFAULT NULL COMMENT '这个链路开始id',
  `qrcode_url` varchar(255) DEFAULT NULL COMMENT '拼接的图片的url',
  `created_time` datetime DEFAULT NULL COMMENT '创建时间',
  `updated_time` datetime DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
