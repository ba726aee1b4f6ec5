-- Seed 001 names wx_mp_account without columns: the working columns of the hub's design. The secret is a reference, never the value.
CREATE TABLE IF NOT EXISTS `wx_mp_account` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `organization_id` bigint DEFAULT NULL,
  `appid` varchar(32) NOT NULL,
  `secret_ref` varchar(255) NOT NULL COMMENT 'file:/path or env:NAME',
  `name` varchar(64) DEFAULT NULL,
  `enabled` tinyint NOT NULL DEFAULT '1',
  `created_time` datetime NOT NULL,
  `updated_time` datetime NOT NULL,
  `deleted` tinyint NOT NULL DEFAULT '0',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_wx_mp_account_appid` (`appid`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='微信公众号账号';
