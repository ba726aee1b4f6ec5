import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * "First time" facts of share-aggregate: one row per visitor's first REACH of a resource, and per
 * visitor's first REACH of a resource through a sharer. The primary keys make `INSERT IGNORE` count
 * each first time once; `first_id` (the share_tracking row) tells the facts a window added: the
 * referral index on it, with the primary key's columns InnoDB keeps in every index, covers those reads.
 * Lengths match share_tracking's columns so a value never truncates.
 */
export class HubShare1764300000000 implements MigrationInterface {
  name = 'HubShare1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE hub_share_first_reach (
        resource_type VARCHAR(255) NOT NULL,
        resource_id VARCHAR(255) NOT NULL,
        visitor_id BIGINT NOT NULL,
        first_id BIGINT NOT NULL COMMENT 'share_tracking.id of the first REACH',
        PRIMARY KEY (resource_type, resource_id, visitor_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='first REACH of a resource per visitor'`);
    await q.query(`
      CREATE TABLE hub_share_first_referral (
        resource_type VARCHAR(255) NOT NULL,
        resource_id VARCHAR(255) NOT NULL,
        visitor_id BIGINT NOT NULL,
        sharer_id BIGINT NOT NULL COMMENT 'last id of from_member_ids',
        first_id BIGINT NOT NULL COMMENT 'share_tracking.id of the first REACH through this sharer',
        browse_time DATETIME NULL COMMENT 'browse_time of that row (its created_time when NULL)',
        PRIMARY KEY (resource_type, resource_id, visitor_id, sharer_id),
        KEY idx_hub_share_first_referral_first_id (first_id, browse_time),
        KEY idx_hub_share_first_referral_sharer (sharer_id, resource_id)
      ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='first REACH of a resource per visitor and sharer'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE hub_share_first_referral');
    await q.query('DROP TABLE hub_share_first_reach');
  }
}
