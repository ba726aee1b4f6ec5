-- Seed 001, family_members (家庭成员表; `brithday` is spelled so in the source), with the unique key family-sync upserts by and the index it finds a student's rows by.
CREATE TABLE IF NOT EXISTS `family_members` (
  `id` bigint(20) NOT NULL AUTO_INCREMENT,
  `member_id` bigint(20) DEFAULT NULL COMMENT '会员id',
  `third_code` varchar(64) DEFAULT NULL COMMENT '第三方  PRI系统代码，卓越：ZYEDU_TMS',
  `build_type` varchar(32) DEFAULT NULL COMMENT '绑定类型 PARENTID MOBILE',
  `third_member_id` varchar(64) DEFAULT NULL COMMENT '第三方会员ID',
  `relation` varchar(32) DEFAULT NULL COMMENT '学生：CHILDREN , 枚举类：FamilyRelationEnum',
  `name` varchar(255) DEFAULT NULL COMMENT '姓名',
  `sex` tinyint(4) DEFAULT NULL COMMENT '性别 0:女 1:男',
  `brithday` date DEFAULT NULL COMMENT '生日',
  `mobile` varchar(45) DEFAULT NULL COMMENT '手机',
  `school_name` varchar(255) DEFAULT NULL COMMENT '生源学校名',
  `grade_name` varchar(255) DEFAULT NULL COMMENT '年级名',
  `created_time` datetime DEFAULT NULL COMMENT '创建时间',
  `deleted` tinyint(4) DEFAULT '0' COMMENT '删除标记',
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_family_members_member_third` (`member_id`, `third_code`, `third_member_id`),
  KEY `idx_family_members_third_member` (`third_member_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='家庭成员表';
