-- Seed 004, dms_business_log 业务日志 (utf8mb4_unicode_ci for utf8mb4_0900_ai_ci, which MariaDB lacks).
CREATE TABLE IF NOT EXISTS `dms_business_log` (
  `log_id` bigint NOT NULL AUTO_INCREMENT COMMENT '日志ID',
  `business_no` varchar(64) NOT NULL COMMENT '业务来源单号',
  `business_source` tinyint NOT NULL COMMENT '业务来源 1-运输费用录入',
  `operation_type` tinyint NOT NULL COMMENT '操作类型 1-创建 2-更新 3-删除',
  `old_value` text COMMENT '旧值',
  `new_value` text COMMENT '新值',
  `change_fields` text COMMENT '变化字段',
  `ip_address` varchar(45) DEFAULT NULL COMMENT '操作人IP地址',
  `remark` varchar(255) DEFAULT NULL COMMENT '备注',
  `over_flag` tinyint NOT NULL DEFAULT '0' COMMENT '完结标识 0-未完结,1-已完结',
  `create_user` bigint NOT NULL COMMENT '创建人',
  `create_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP COMMENT '创建时间',
  `update_user` bigint DEFAULT NULL COMMENT '更新人',
  `update_time` datetime NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP COMMENT '更新时间',
  PRIMARY KEY (`log_id`),
  KEY `idx_create_time` (`create_time`),
  KEY `idx_update_time` (`update_time`),
  KEY `idx_business_no` (`business_no`,`business_source`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='业务日志表';
