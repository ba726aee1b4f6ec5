import type { MigrationInterface, QueryRunner } from 'typeorm';
import { HubShare1764300000000 } from './1764300000000-hub-share';

const TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci';

/**
 * Narrow keys for share-aggregate's first-time facts. Keyed on two VARCHAR(255) texts, the fact
 * tables and their secondary indexes outgrew a default 128 MB buffer pool at a couple of million
 * share_tracking rows, and every new REACH then read pages from disk. Now a resource is a 4-byte
 * key (hub_share_resource), the referral facts lead with the sharer (the save-info recount reads
 * one key range, no secondary index), and a fact is its key alone: the window finds its first times
 * before inserting them, so `first_id`, its index and `browse_time` go. Existing facts are copied,
 * not recomputed: the counters stay as they are.
 */
export class HubShareKeys1764600000000 implements MigrationInterface {
  name = 'HubShareKeys1764600000000';

  async up(q: QueryRunner): Promise<void> {
    // The unique key leads with resource_id: member_child_info matches facts by resource_id alone.
    await q.query(`
      CREATE TABLE hub_share_resource (
        resource_key INT UNSIGNED NOT NULL AUTO_INCREMENT,
        resource_type VARCHAR(255) NOT NULL,
        resource_id VARCHAR(255) NOT NULL,
        PRIMARY KEY (resource_key),
        UNIQUE KEY uk_hub_share_resource (resource_id, resource_type)
      ) ${TABLE_OPTIONS} COMMENT='share-aggregate key of each resource'`);
    await q.query(`
      INSERT INTO hub_share_resource (resource_type, resource_id)
      SELECT resource_type, resource_id FROM hub_share_first_reach UNION SELECT resource_type, resource_id FROM hub_share_first_referral`);
    await q.query(`
      CREATE TABLE hub_share_first_reach_keyed (
        resource_key INT UNSIGNED NOT NULL,
        visitor_id BIGINT NOT NULL,
        PRIMARY KEY (resource_key, visitor_id)
      ) ${TABLE_OPTIONS} COMMENT='first REACH of a resource per visitor'`);
    await q.query(`
      CREATE TABLE hub_share_first_referral_keyed (
        sharer_id BIGINT NOT NULL COMMENT 'last id of from_member_ids',
        resource_key INT UNSIGNED NOT NULL,
        visitor_id BIGINT NOT NULL,
        PRIMARY KEY (sharer_id, resource_key, visitor_id)
      ) ${TABLE_OPTIONS} COMMENT='first REACH of a resource per visitor and sharer'`);
    await q.query(`
      INSERT INTO hub_share_first_reach_keyed (resource_key, visitor_id)
      SELECT r.resource_key, f.visitor_id FROM hub_share_first_reach f
      JOIN hub_share_resource r ON r.resource_id = f.resource_id AND r.resource_type = f.resource_type`);
    await q.query(`
      INSERT INTO hub_share_first_referral_keyed (sharer_id, resource_key, visitor_id)
      SELECT f.sharer_id, r.resource_key, f.visitor_id FROM hub_share_first_referral f
      JOIN hub_share_resource r ON r.resource_id = f.resource_id AND r.resource_type = f.resource_type`);
    // One atomic rename: a reader sees either the old tables or the new ones.
    await q.query(`
      RENAME TABLE hub_share_first_reach TO hub_share_first_reach_text, hub_share_first_reach_keyed TO hub_share_first_reach,
        hub_share_first_referral TO hub_share_first_referral_text, hub_share_first_referral_keyed TO hub_share_first_referral`);
    await q.query('DROP TABLE hub_share_first_reach_text, hub_share_first_referral_text');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      RENAME TABLE hub_share_first_reach TO hub_share_first_reach_keyed, hub_share_first_referral TO hub_share_first_referral_keyed`);
    await new HubShare1764300000000().up(q); // the text-keyed tables, as that release created them
    // first_id 0 and browse_time NULL: the previous release read them only for facts of the window being folded.
    await q.query(`
      INSERT INTO hub_share_first_reach (resource_type, resource_id, visitor_id, first_id)
      SELECT r.resource_type, r.resource_id, f.visitor_id, 0 FROM hub_share_first_reach_keyed f JOIN hub_share_resource r USING (resource_key)`);
    await q.query(`
      INSERT INTO hub_share_first_referral (resource_type, resource_id, visitor_id, sharer_id, first_id)
      SELECT r.resource_type, r.resource_id, f.visitor_id, f.sharer_id, 0 FROM hub_share_first_referral_keyed f JOIN hub_share_resource r USING (resource_key)`);
    await q.query('DROP TABLE hub_share_first_reach_keyed, hub_share_first_referral_keyed, hub_share_resource');
  }
}
