-- Seed 001, discount_coupon_code 优惠券码表 (dicount_coupon_name spelled so in the seed; lengths where the seed gives none are the hub's working choice), with the index coupon-expire walks.
CREATE TABLE IF NOT EXISTS `discount_coupon_code` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `code` varchar(64) DEFAULT NULL COMMENT '优惠券码',
  `discount_coupon_id` bigint DEFAULT NULL COMMENT '优惠券id',
  `discount_amount` bigint DEFAULT NULL COMMENT '优惠金额',
  `discount_coupon_send_rule_id` bigint DEFAULT NULL COMMENT '优惠券投放id',
  `member_id` bigint DEFAULT NULL COMMENT '会员id',
  `effect_end_time` datetime DEFAULT NULL COMMENT '有效期结束时间',
  `give_member_time` datetime DEFAULT NULL COMMENT '发送到会员时间',
  `effect_start_time` datetime DEFAULT NULL COMMENT '有效期开始时间',
  `used_time` datetime DEFAULT NULL,
  `order_id` bigint DEFAULT NULL COMMENT '订单id',
  `dicount_coupon_name` varchar(255) DEFAULT NULL COMMENT '优惠券名称',
  `order_type` varchar(64) DEFAULT NULL COMMENT '订单类型',
  `status` varchar(32) DEFAULT NULL COMMENT '状态 UNSEND UNOPEN UNUSED USED TIME_OUT',
  `deleted` tinyint DEFAULT 0 COMMENT '删除标记',
  `created_time` datetime DEFAULT NULL COMMENT '创建时间',
  `updated_time` datetime DEFAULT NULL COMMENT '更新时间',
  PRIMARY KEY (`id`),
  KEY `idx_discount_coupon_code_status_end` (`status`, `effect_end_time`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='优惠券码表';
