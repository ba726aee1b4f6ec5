import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { DataSource } from 'typeorm';
import { createDataSource } from '../../entities/data-source';
import { HubAudit } from '../../entities/hub/hub-audit.entity';
import { closeRedis } from '../../lib/redis';
import { parseUsersFile, verifyPassword } from '../../lib/users';
import { testConfig } from '../support/env';
import { deletePrefix, testPrefix, testRedis } from '../support/queues';
import { assertJobhubBuilt, jobhubCli, SEVERAL_CLI_RUNS_MS } from '../support/jobhub-cli';
import { track } from '../support/resources';

const SEVERAL_RUNS_MS = SEVERAL_CLI_RUNS_MS;

describe('the jobhub command line (dist/cli/jobhub.main.js)', () => {
  const prefix = testPrefix(__filename);
  const usersDir = mkdtempSync(join(tmpdir(), 'jobhub-cli-users-'));
  const usersFile = join(usersDir, 'users');
  const actor = 'cli-test-operator';
  let redis: Redis;
  let db: DataSource;
  let sms: Queue;

  /** One run of the built CLI: stdin gets `input` and is closed. */
  const cli = jobhubCli({ prefix, actor, env: { HUB_USERS_FILE: usersFile } });

  beforeAll(async () => {
    assertJobhubBuilt();
    redis = await testRedis();
    db = track({ kind: 'data-source', value: await createDataSource(testConfig()) });
    sms = track({ kind: 'queue', value: new Queue('sms', { connection: redis, prefix }) });
  });
  afterAll(async () => {
    await sms.close();
    await deletePrefix(redis, prefix);
    await closeRedis(redis);
    await db.destroy();
    rmSync(usersDir, { recursive: true, force: true });
  }, SEVERAL_RUNS_MS);

  it('enqueues a valid job, prints its id, shows its status and audits it as the cli actor', async () => {
    const run = await cli(['enqueue', 'sms-send', '{"phone":"+8613800138000","templateKey":"login-code","params":{"code":"4321"}}', '--json']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const answer = JSON.parse(run.stdout) as { id: string; name: string; queue: string };
    expect(answer).toMatchObject({ name: 'sms-send', queue: 'sms' });

    const job = await sms.getJob(answer.id);
    expect(job?.name).toBe('sms-send');
    expect(job?.data).toMatchObject({ phone: '13800138000', templateKey: 'login-code', params: { code: '4321' } });

    const status = await cli(['status', 'sms-send', answer.id, '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ job: 'sms-send', id: answer.id, queue: 'sms', state: 'waiting', attemptsMade: 0, failedReason: null });

    const rows = await db.getRepository(HubAudit).find({ where: { action: 'job.enqueue', actorKind: 'cli', actor } });
    const row = rows.find((r) => r.jobIds?.includes(answer.id));
    expect(row).toMatchObject({ queue: 'sms', outcome: 'ok', detail: { job: 'sms-send' } });

    const audit = await cli(['audit', '--who', actor, '--limit', '100', '--json']);
    expect(audit.code).toBe(0);
    const listed = JSON.parse(audit.stdout) as { id: string; actorKind: string; jobIds: string[] | null }[];
    expect(listed.find((r) => r.id === row?.id)).toMatchObject({ actorKind: 'cli', jobIds: [answer.id] });
  }, SEVERAL_RUNS_MS);

  it('reads the payload from stdin with -, and prints the bare id without --json', async () => {
    const run = await cli(['enqueue', 'sms-send', '-'], '{"phone":"13900139000","templateKey":"welcome"}\n');
    expect(run.code).toBe(0);
    const id = run.stdout.trim();
    expect((await sms.getJob(id))?.data).toMatchObject({ phone: '13900139000', templateKey: 'welcome' });
  }, SEVERAL_RUNS_MS);

  it('refuses an invalid payload with exit 2 naming the field, and adds nothing', async () => {
    const before = await sms.count();
    const run = await cli(['enqueue', 'sms-send', '{"phone":"12345","templateKey":"login-code"}']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/phone/);
    expect(run.stdout).toBe('');
    expect(await sms.count()).toBe(before);

    expect((await cli(['enqueue', 'sms-send', '{not json'])).code).toBe(2);
    expect((await cli(['enqueue', 'no-such-job', '{}'])).code).toBe(2);
    expect((await cli(['pause'])).code).toBe(2);
    expect((await cli(['no-such-command'])).code).toBe(2);
  }, SEVERAL_RUNS_MS);

  it('answers exit 3 for the status of an unknown job id', async () => {
    const run = await cli(['status', 'sms-send', 'no-such-id']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/no sms-send job no-such-id/);
  }, SEVERAL_RUNS_MS);

  it('lists the catalogue with queue and schedule', async () => {
    const run = await cli(['jobs', '--json']);
    expect(run.code).toBe(0);
    const jobs = JSON.parse(run.stdout) as { name: string; queue: string; schedule: string | null; description: string }[];
    expect(jobs.find((j) => j.name === 'sms-send')).toMatchObject({ queue: 'sms', schedule: null });
    expect(jobs.find((j) => j.name === 'sms-code-cleanup')).toMatchObject({ queue: 'ops', schedule: '0 * * * *' });
    expect((await cli(['jobs'])).stdout).toMatch(/^sms-send\s+sms\s+-\s+Send one SMS/m);
  }, SEVERAL_RUNS_MS);

  it('pauses and resumes a queue, and audits both', async () => {
    const paused = await cli(['pause', 'sms', '--json']);
    expect(paused.code).toBe(0);
    expect(JSON.parse(paused.stdout)).toEqual({ queue: 'sms', paused: true });
    expect(await sms.isPaused()).toBe(true);

    const resumed = await cli(['resume', 'sms']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout.trim()).toBe('sms: running');
    expect(await sms.isPaused()).toBe(false);

    const actions = (await db.getRepository(HubAudit).find({ where: { actor, actorKind: 'cli', queue: 'sms' } })).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['queue.pause', 'queue.resume']));
    expect((await cli(['pause', 'no-such-queue'])).code).toBe(2);
  }, SEVERAL_RUNS_MS);

  it('retries the failed jobs of a queue that match --job and --since', async () => {
    const workerRedis = await testRedis('worker');
    const worker = track({
      kind: 'worker',
      value: new Worker(
        'sms',
        () => {
          throw new Error('provider down');
        },
        { connection: workerRedis, prefix },
      ),
    });
    // Jobs earlier tests left waiting fail here too, but with attempts to spare they are only delayed.
    const failed = new Promise<void>((resolve) => worker.on('failed', (job) => job?.id === 'cli-retry-me' && resolve()));
    const startedAt = new Date(Date.now() - 1_000);
    await sms.add('sms-send', { phone: '13700137000', templateKey: 'x' }, { jobId: 'cli-retry-me', attempts: 1 });
    try {
      await failed;
    } finally {
      await worker.close();
      await closeRedis(workerRedis);
    }
    expect(await sms.getJobState('cli-retry-me')).toBe('failed');

    const none = await cli(['retry-failed', 'sms', '--since', new Date(Date.now() + 60_000).toISOString(), '--json']);
    expect(none.code).toBe(0);
    expect(JSON.parse(none.stdout)).toMatchObject({ retried: 0 });
    expect((await cli(['retry-failed', 'sms', '--job', 'email-send'])).code).toBe(2);

    const run = await cli(['retry-failed', 'sms', '--job', 'sms-send', '--since', startedAt.toISOString(), '--json']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ queue: 'sms', retried: 1, errors: [] });
    expect(['waiting', 'prioritized']).toContain(await sms.getJobState('cli-retry-me'));
    const rows = await db.getRepository(HubAudit).find({ where: { actor, action: 'job.retry', queue: 'sms' } });
    expect(rows.some((r) => r.jobIds?.includes('cli-retry-me'))).toBe(true);
  }, SEVERAL_RUNS_MS);

  it('adds a user with the password from stdin, lists and removes them; the file verifies', async () => {
    const add = await cli(['users', 'add', 'li.lei', '--role', 'operator'], 'correct horse battery\n');
    expect(add.code).toBe(0);
    const [user] = parseUsersFile(readFileSync(usersFile, 'utf8'));
    expect(user).toMatchObject({ name: 'li.lei', role: 'operator' });
    expect(await verifyPassword('correct horse battery', user?.hash ?? '')).toBe(true);
    expect(await verifyPassword('wrong', user?.hash ?? '')).toBe(false);

    const list = await cli(['users', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([{ name: 'li.lei', role: 'operator' }]);

    expect((await cli(['users', 'add', 'li.lei', '--role', 'viewer'], 'x\n')).code).toBe(1);
    expect((await cli(['users', 'add', 'han.meimei', '--role', 'king'], 'x\n')).code).toBe(2);
    expect((await cli(['users', 'remove', 'nobody'])).code).toBe(3);
    expect((await cli(['users', 'remove', 'li.lei'])).code).toBe(0);
    expect(parseUsersFile(readFileSync(usersFile, 'utf8'))).toEqual([]);

    const actions = (await db.getRepository(HubAudit).find({ where: { actor, actorKind: 'cli', businessKey: 'li.lei' } })).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['user.add', 'user.remove']));
  }, SEVERAL_RUNS_MS);

  it('migrate finds nothing pending on a migrated database, and schema-check finds it matching', async () => {
    const migrated = await cli(['migrate', '--json']);
    expect(migrated.code).toBe(0);
    expect(JSON.parse(migrated.stdout)).toEqual({ migrations: [] });
    const checked = await cli(['schema-check', '--json']);
    expect(checked.code).toBe(0);
    expect(JSON.parse(checked.stdout)).toEqual({ ok: true, problems: [] });
  }, SEVERAL_RUNS_MS);

  it('answers --help on every command with the exit codes, exit 0', async () => {
    for (const args of [['--help'], ['enqueue', '--help'], ['users', 'add', '--help'], ['audit', '--help']]) {
      const run = await cli(args);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/Exit codes:\n {2}0 {2}done/);
    }
  }, SEVERAL_RUNS_MS);
});
