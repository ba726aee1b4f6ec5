import type { DataSource } from 'typeorm';
import { createDataSource } from '../../entities/data-source';
import { recordAlert } from '../../entities/hub/hub-alert.entity';
import { parseBeijing } from '../../lib/time';
import { testConfig } from '../support/env';
import { assertJobhubBuilt, jobhubCli, SEVERAL_CLI_RUNS_MS } from '../support/jobhub-cli';
import { testPrefix } from '../support/queues';
import { track } from '../support/resources';

/** A kind of this file only: other files of this jest worker raise real kinds into the same table. */
const KIND = 'test-cli-alert';
const SEVERAL_RUNS_MS = SEVERAL_CLI_RUNS_MS;

describe('jobhub alerts (dist/cli/jobhub.main.js)', () => {
  const cli = jobhubCli({ prefix: testPrefix(__filename), actor: 'alerts-cli-reader' });
  let db: DataSource;

  beforeAll(async () => {
    assertJobhubBuilt();
    db = track({ kind: 'data-source', value: await createDataSource(testConfig()) });
    for (const [i, at] of ['2026-11-30 09:00', '2026-12-01 10:00', '2026-12-01 11:30'].entries()) {
      await recordAlert(db, { kind: KIND, message: `test alert ${i}`, details: { i, phone: '13812345678' }, raisedAt: parseBeijing(at), job: i === 2 ? { id: 'job-42', name: 'refund-submit' } : undefined });
    }
  });
  afterAll(async () => {
    await db.destroy();
  });

  it('lists one kind newest first, from --since, as JSON without the dedupe key', async () => {
    const all = await cli(['alerts', '--kind', KIND, '--json']);
    expect(all).toMatchObject({ code: 0, stderr: '' });
    const rows = JSON.parse(all.stdout) as Record<string, unknown>[];
    expect(rows.map((r) => r.message)).toEqual(['test alert 2', 'test alert 1', 'test alert 0']);
    expect(rows[0]).toMatchObject({ kind: KIND, raisedAt: '2026-12-01T03:30:00.000Z', jobName: 'refund-submit', jobId: 'job-42', details: { i: 2, phone: '138****5678' } });
    expect(rows[0]).not.toHaveProperty('dedupeKey');

    const recent = await cli(['alerts', '--kind', KIND, '--since', '2026-12-01 10:00', '--json']);
    expect((JSON.parse(recent.stdout) as { message: string }[]).map((r) => r.message)).toEqual(['test alert 2', 'test alert 1']);
  }, SEVERAL_RUNS_MS);

  it('prints a table for people, and refuses a bad --since with the usage exit code', async () => {
    const text = await cli(['alerts', '--kind', KIND, '--limit', '2']);
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+WHEN \(BEIJING\)\s+KIND\s+RAISED BY\s+MESSAGE$/);
    expect(lines.slice(1).map((l) => /(2026-\S+ \S+)\s+test-cli-alert\s+(\S+)\s+(test alert \d)$/.exec(l)?.slice(1))).toEqual([
      ['2026-12-01 11:30:00', 'refund-submit#job-42', 'test alert 2'],
      ['2026-12-01 10:00:00', '-', 'test alert 1'],
    ]);

    const bad = await cli(['alerts', '--since', 'yesterday']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^jobhub: --since "yesterday": expected/);
  }, SEVERAL_RUNS_MS);
});
