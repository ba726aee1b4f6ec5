import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { BoardAccount } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { QueueName } from '../workers/queue-names';
import type { QueueSet } from '../workers/queues';
import { boardRoleForBasic, isSameOrigin } from './auth';
import { sendError } from './http-errors';

export const BOARD_PATH = '/admin/queues';

export interface BoardDeps {
  queues: QueueSet;
  names: readonly QueueName[];
  accounts: { admin: BoardAccount; viewer: BoardAccount | null };
  /** The dashboard's address as browsers see it, when a proxy changes it (HUB_PUBLIC_URL). */
  publicUrl: string | null;
  log: Logger;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Bull Board behind HTTP Basic auth. Its read-only options only hide buttons, so the viewer's
 * limits are enforced here, on the server: every write route answers 403.
 */
export async function registerBoard(app: FastifyInstance, deps: BoardDeps): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    queues: deps.names.map((name) => new BullMQAdapter(deps.queues.get(name))),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'jobhub' } },
  });

  await app.register(async (board) => {
    board.addHook('onRequest', async (request, reply) => {
      const role = boardRoleForBasic(request.headers.authorization, deps.accounts);
      if (!role) {
        reply.header('www-authenticate', 'Basic realm="jobhub board", charset="UTF-8"');
        return sendError(reply, 401, { error: 'unauthorized', message: 'dashboard credentials required' });
      }
      if (READ_METHODS.has(request.method)) return;
      if (role !== 'admin') {
        return sendError(reply, 403, { error: 'forbidden', message: 'the viewer account is read-only' });
      }
      if (!isSameOrigin(request.headers.origin, request.headers.host, deps.publicUrl)) {
        return sendError(reply, 403, { error: 'cross_origin', message: 'dashboard writes must come from the dashboard itself' });
      }
      deps.log.info({ method: request.method, route: request.url.split('?')[0], board: role }, 'dashboard write');
    });
    await board.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
  });
}
