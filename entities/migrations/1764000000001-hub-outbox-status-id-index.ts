import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The sweeper walks ENQUEUED rows by id: without this index each pass would read the whole table. */
export class HubOutboxStatusIdIndex1764000000001 implements MigrationInterface {
  name = 'HubOutboxStatusIdIndex1764000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE hub_outbox ADD KEY idx_hub_outbox_status_id (status, id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE hub_outbox DROP KEY idx_hub_outbox_status_id');
  }
}
