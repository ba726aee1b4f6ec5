-- Seed 001 names resource_share_info without columns: the working columns of the hub's design, one row per resource (the unique key the counters upsert on; 191 characters keep it within InnoDB's index limit).
CREATE TABLE IF NOT EXISTS `resource_share_info` (
  `id` bigint NOT NULL AUTO_INCREMENT,
  `organization_id` bigint DEFAULT NULL,
  `resource_type` varchar(191) NOT NULL,
  `resource_id` varchar(191) NOT NULL,
  `share_count` int NOT NULL DEFAULT 0,
  `reach_count` int NOT NULL DEFAULT 0,
  `uv_count` int NOT NULL DEFAULT 0,
  `max_depth` int NOT NULL DEFAULT 0,
  `updated_time` datetime DEFAULT NULL,
  PRIMARY KEY (`id`),
  UNIQUE KEY `uk_resource_share_info_resource` (`resource_type`, `resource_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
