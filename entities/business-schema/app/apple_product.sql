-- Seed 003, 产品数据结构（Apple）, table apple_product. `desc` and `order` are reserved words.
CREATE TABLE IF NOT EXISTS `apple_product` (
  `pid` bigint unsigned NOT NULL AUTO_INCREMENT COMMENT '产品唯一ID',
  `iap_product_id` varchar(128) NOT NULL COMMENT '苹果产品ID',
  `name` varchar(32) NOT NULL COMMENT '产品名称',
  `sub_name` varchar(64) DEFAULT NULL COMMENT '子标题',
  `is_subscription` tinyint unsigned NOT NULL DEFAULT '0' COMMENT '是否为订阅（0=否，1=是），默认0',
  `subscription_duration` tinyint unsigned DEFAULT NULL COMMENT '苹果订阅时长周期类型（1=周，2=月，3=双月，4=季度，5=半年，6=年）',
  `type` tinyint unsigned NOT NULL DEFAULT '1' COMMENT '产品类型（1=会员时长，2=永久会员，99=自定义），默认1',
  `function_value` varchar(64) DEFAULT NULL COMMENT '产品功能值，用于购买后逻辑处理',
  `cross_price` int unsigned NOT NULL DEFAULT '0' COMMENT '划线价，单位分',
  `sale_price` int unsigned NOT NULL DEFAULT '0' COMMENT '售价，单位分',
  `desc` varchar(512) DEFAULT NULL COMMENT '商品描述',
  `sale_status` tinyint unsigned NOT NULL DEFAULT '1' COMMENT '销售状态（1=在售，2=待售），默认1',
  `order` int unsigned NOT NULL DEFAULT '1' COMMENT '排序，值越小越靠前，默认1',
  `ext_data` varchar(512) DEFAULT NULL COMMENT '用户自定义扩展字段，JSON格式',
  `updated_at` timestamp NULL DEFAULT NULL COMMENT '更新时间',
  `created_at` timestamp NULL DEFAULT NULL COMMENT '创建时间',
  PRIMARY KEY (`pid`),
  KEY `idx_apple_product_iap_product_id` (`iap_product_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Apple 产品';
