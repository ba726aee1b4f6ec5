-- Seed 003, 订单数据结构（Android）, table android_order; oid is the app's out_trade_no at WeChat.
CREATE TABLE IF NOT EXISTS `android_order` (
  `oid` varchar(64) NOT NULL COMMENT '订单唯一ID',
  `uid` int unsigned NOT NULL COMMENT '用户ID',
  `product_id` int unsigned NOT NULL COMMENT '产品ID',
  `product_price` int unsigned NOT NULL COMMENT '产品价格（单位：分）',
  `discount_amount` int unsigned NOT NULL DEFAULT '0' COMMENT '优惠金额（单位：分），默认0',
  `order_amount` int unsigned NOT NULL COMMENT '订单金额（单位：分）',
  `payment_amount` int unsigned NOT NULL DEFAULT '0' COMMENT '实际支付金额（单位：分）',
  `platform_order_amount` int unsigned NOT NULL DEFAULT '0' COMMENT '支付平台订单金额（单位：分）',
  `status` int unsigned NOT NULL DEFAULT '1' COMMENT '订单状态（1=待支付，2=已支付，3=已退款，4=支付失败），默认1',
  `pay_channel` int unsigned NOT NULL DEFAULT '1' COMMENT '支付渠道（1=微信，2=支付宝，3=苹果），默认1',
  `tid` varchar(64) DEFAULT NULL COMMENT '第三方支付平台订单号',
  `trade_type` varchar(32) DEFAULT NULL COMMENT '交易类型',
  `bank_type` varchar(32) DEFAULT NULL COMMENT '银行类型',
  `open_id` varchar(128) DEFAULT NULL COMMENT '第三方支付用户标识',
  `channel` varchar(64) NOT NULL DEFAULT 'official' COMMENT '来源渠道，默认official',
  `pay_time` datetime DEFAULT NULL COMMENT '支付时间',
  `updated_at` datetime DEFAULT NULL COMMENT '更新时间',
  `created_at` datetime DEFAULT NULL COMMENT '创建时间',
  PRIMARY KEY (`oid`),
  KEY `idx_android_order_status_created` (`status`,`created_at`),
  KEY `idx_android_order_pay_time` (`pay_time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='Android 订单';
