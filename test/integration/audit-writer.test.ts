import type { AuditEntry } from '../../entities/hub/hub-audit.entity';
import { auditWriteFailures } from '../../lib/metrics';
import { AuditWriter } from '../../server/audit-writer';
import { auditMark } from '../support/board';
import { openTestHub, type TestHub } from '../support/hub';
import { captureLogger } from '../support/logs';

describe('AuditWriter: the web\'s audit rows, group-committed', () => {
  let hub: TestHub;
  let mark = '0';

  beforeAll(async () => {
    hub = await openTestHub(__filename);
    mark = await auditMark(hub.db);
  });
  afterAll(async () => hub.close());

  const entry = (actor: string, i: number): AuditEntry => ({ actor, actorKind: 'api', action: 'job.enqueue', queue: 'ops', jobIds: [`job-${i}`], outcome: 'ok', statusCode: 202, detail: { i } });
  const rowsOf = async (actor: string): Promise<{ detail: { i: number } }[]> =>
    hub.db.query('SELECT detail FROM hub_audit WHERE actor = ? AND id > ? ORDER BY id', [actor, mark]);

  it('writes every row of a burst, in order, and drain waits for the last', async () => {
    const writer = new AuditWriter(hub.db, hub.log);
    for (let i = 0; i < 1_200; i += 1) writer.write(entry('burst', i));
    await writer.drain();
    const rows = await rowsOf('burst');
    expect(rows).toHaveLength(1_200);
    expect(rows.map((r) => r.detail.i)).toEqual(Array.from({ length: 1_200 }, (_, i) => i));
  });

  it('loses only the row the server refuses, not the rest of its batch, and logs and counts it', async () => {
    const logs = captureLogger();
    const writer = new AuditWriter(hub.db, logs.log);
    const failuresBefore = (await auditWriteFailures.get()).values[0]?.value ?? 0;
    for (let i = 0; i < 20; i += 1) writer.write(entry('mixed', i));
    // A status past SMALLINT UNSIGNED: strict mode refuses the row (and with it the multi-row INSERT).
    writer.write({ ...entry('mixed', 20), statusCode: 70_000 });
    for (let i = 21; i < 40; i += 1) writer.write(entry('mixed', i));
    await writer.drain();
    expect(await rowsOf('mixed')).toHaveLength(39);
    expect((await auditWriteFailures.get()).values[0]?.value).toBe(failuresBefore + 1);
    expect(logs.lines().filter((l) => l.msg === 'audit row not written')).toHaveLength(1);
  });
});
