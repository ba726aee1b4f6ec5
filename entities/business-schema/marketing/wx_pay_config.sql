-- Seed 001 names wx_pay_config without columns: the working columns of the hub's design. Secrets are references, never values.
CREATE TABLE IF NOT EXISTS `wx_pay_config` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `organization_id` bigint DEFAULT NULL,
  `mchid` varchar(32) NOT NULL,
  `appid` varchar(32) NOT NULL,
  `merchant_serial_no` varchar(64) NOT NULL,
  `private_key_file` varchar(255) NOT NULL,
  `api_v3_key_ref` varchar(255) NOT NULL COMMENT 'file:/path or env:NAME',
  `wechatpay_public_key_id` varchar(64) DEFAULT NULL,
  `wechatpay_public_key_file` varchar(255) DEFAULT NULL,
  `enabled` tinyint NOT NULL DEFAULT '1',
  `created_time` datetime NOT NULL,
  `updated_time` datetime NOT NULL,
  `deleted` tinyint NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`),
  KEY `idx_wx_pay_config_mchid` (`mchid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='微信支付商户配置';
