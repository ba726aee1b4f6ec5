import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MoreThan, type DataSource, type FindOptionsWhere } from 'typeorm';
import { z } from 'zod';
import { HubAudit } from '../../entities/hub/hub-audit.entity';
import { formatUsersFile, hashPassword, type HubRole } from '../../lib/users';
import { until } from './wait';
import { defineJob, done } from '../../jobs/define-job';
import { PermanentError } from '../../lib/errors';

/** The dashboard accounts the board's tests log in with. */
export const BOARD_ADMIN = { username: 'ops-admin', password: 'admin-secret-123' };
export const BOARD_VIEWER = { username: 'ops-viewer', password: 'viewer-secret-123' };
/** The configuration of those two accounts, to spread into testConfig. */
export const BOARD_ADMIN_ENV = { BOARD_USERNAME: BOARD_ADMIN.username, BOARD_PASSWORD: BOARD_ADMIN.password };
export const BOARD_VIEWER_ENV = { BOARD_VIEWER_USERNAME: BOARD_VIEWER.username, BOARD_VIEWER_PASSWORD: BOARD_VIEWER.password };

/** An `Authorization: Basic` header for an account. */
export const basicAuth = (account: { username: string; password: string }): string => `Basic ${Buffer.from(`${account.username}:${account.password}`).toString('base64')}`;

/** A job that completes and one that fails for good, so the board shows both. */
export const greetJob = defineJob({
  name: 'test-greet',
  queue: 'messages',
  description: 'says hello',
  payload: z.object({ memberId: z.string() }),
  handle: async ({ memberId }) => done({ greeted: memberId }),
});
export const refuseJob = defineJob({
  name: 'test-refuse',
  queue: 'messages',
  description: 'always refuses',
  payload: z.object({ orderNo: z.string() }),
  options: { attempts: 1 },
  handle: async () => {
    throw new PermanentError('NOT_ALLOWED', 'refused');
  },
});

/** Named accounts of a users file (HUB_USERS_FILE), one per role, and one the throttle tests may lock. */
export const NAMED = {
  admin: { username: 'adam', password: 'adam-secret-123', role: 'admin' },
  operator: { username: 'olga', password: 'olga-secret-123', role: 'operator' },
  viewer: { username: 'vera', password: 'vera-secret-123', role: 'viewer' },
  locked: { username: 'tess', password: 'tess-secret-123', role: 'operator' },
} as const satisfies Record<string, { username: string; password: string; role: HubRole }>;

/**
 * A users file of these accounts in a directory of its own; `remove()` deletes it. Cheap scrypt
 * parameters: the tests check who may do what, not scrypt's cost (test/unit/users.test.ts does).
 */
export async function writeUsersFile(accounts: readonly { username: string; password: string; role: HubRole }[]): Promise<{ path: string; remove(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-users-'));
  const users = await Promise.all(accounts.map(async (a) => ({ name: a.username, role: a.role, hash: await hashPassword(a.password, { N: 1_024, r: 8, p: 1 }) })));
  const path = join(dir, 'users');
  writeFileSync(path, formatUsersFile(users));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The newest hub_audit id now ('0' when none): a test reads only the rows after it, as other files share the database. */
export async function auditMark(db: DataSource): Promise<string> {
  const [row] = await db.getRepository(HubAudit).find({ order: { id: 'DESC' }, take: 1 });
  return row?.id ?? '0';
}

/**
 * The audit rows after `after` (an `auditMark`) matching `where`, oldest first, once at least `count`
 * are there: a row is written after its answer has gone out.
 */
export async function auditRows(db: DataSource, where: FindOptionsWhere<HubAudit>, { count = 1, after = '0' }: { count?: number; after?: string } = {}): Promise<HubAudit[]> {
  let rows: HubAudit[] = [];
  await until(`${count} hub_audit rows ${JSON.stringify(where)}`, async () => {
    rows = await db.getRepository(HubAudit).find({ where: { ...where, id: MoreThan(after) }, order: { id: 'ASC' } });
    return rows.length >= count;
  });
  return rows;
}
