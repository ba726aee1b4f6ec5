import { createBullBoard } from '@bull-board/api';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { BoardAccount } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import type { QueueName } from '../../lib/queue-names';
import type { QueueSet } from '../../workers/queues';
import { isSameOrigin } from '../auth';
import { boardLogin } from './board-login';
import { boardMaskingHooks, maskedAdapter } from './board-redaction';
import { sendError } from '../http-errors';
import type { LoginThrottle } from './login-throttle';

export const BOARD_PATH = '/admin/queues';

export interface BoardDeps {
  queues: QueueSet;
  names: readonly QueueName[];
  accounts: { admin: BoardAccount; viewer: BoardAccount | null };
  /** The dashboard's address as browsers see it, when a proxy changes it (HUB_PUBLIC_URL). */
  publicUrl: string | null;
  /** Failed logins per user name and per address, shared by every web replica. */
  throttle: LoginThrottle;
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
    // Masked as the logs are, for every role; stack traces for admins only (board-redaction.ts).
    queues: deps.names.map((name) => maskedAdapter(deps.queues.get(name))),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'jobhub' }, handlerHooks: boardMaskingHooks(deps.accounts) },
  });

  await app.register(async (board) => {
    board.addHook('onRequest', async (request, reply) => {
      const role = await boardLogin(request, reply, deps);
      if (!role) return reply;
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
