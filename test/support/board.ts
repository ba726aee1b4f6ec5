import { z } from 'zod';
import { defineJob, done } from '../../jobs/define-job';
import { PermanentError } from '../../lib/errors';

/** The dashboard accounts the board's tests log in with. */
export const BOARD_ADMIN = { username: 'ops-admin', password: 'admin-secret-123' };
export const BOARD_VIEWER = { username: 'ops-viewer', password: 'viewer-secret-123' };

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
