import { createBullBoard } from '@bull-board/api';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from '../../lib/logger';
import type { BoardLocale } from '../../lib/config';
import type { JobRegistry } from '../../jobs/define-job';
import type { QueueName } from '../../lib/queue-names';
import type { QueueSet } from '../../workers/queues';
import { noteAudit } from '../audit-hook';
import { basicCredentials, isSameOrigin } from '../auth';
import { BoardAccountBook, boardIdentities, type BoardAccounts } from './board-accounts';
import { boardAction, mayDo, type BoardAction } from './board-actions';
import { boardLogin } from './board-login';
import { registerRoleScript } from './board-role-script';
import { boardMaskingHooks, maskedAdapter } from './board-redaction';
import { BOARD_VIEWS_DIR, boardUiConfig } from './board-ui';
import { sendError } from '../http-errors';
import type { LoginThrottle } from './login-throttle';

export const BOARD_PATH = '/admin/queues';

/** What a queue runs, from the registry: the board shows it under the queue's name. */
export function queueDescription(registry: JobRegistry, queue: QueueName): string {
  const jobs = [...registry.values()].filter((def) => def.queue === queue).map((def) => def.name);
  return jobs.length > 0 ? `runs ${jobs.join(', ')}` : 'runs no job of this hub';
}

export interface BoardDeps {
  queues: QueueSet;
  names: readonly QueueName[];
  /** The env admin and viewer, HUB_USERS_FILE's users and the single sign-on settings. */
  accounts: BoardAccounts;
  /** Peers whose single sign-on header is believed (HUB_TRUSTED_PROXIES). */
  trustedProxies: readonly string[];
  /** The dashboard's address as browsers see it, when a proxy changes it (HUB_PUBLIC_URL). */
  publicUrl: string | null;
  /** Failed logins per user name and per address, shared by every web replica. */
  throttle: LoginThrottle;
  /** Each queue's description on the board: the jobs it runs. */
  registry: JobRegistry;
  /** Bull Board's language (HUB_BOARD_LOCALE). */
  locale: BoardLocale;
  log: Logger;
}

const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

type Params = Record<string, string | undefined>;

/** The write a request asks of the board, or null for a read or an unknown address (404). */
function writeAction(request: FastifyRequest): BoardAction | null {
  const route = request.routeOptions.url;
  if (READ_METHODS.has(request.method) || !route?.startsWith(BOARD_PATH)) return null;
  return boardAction(request.method, route.slice(BOARD_PATH.length), request.params as Params);
}

/**
 * Bull Board behind the hub's login. Its read-only options only hide buttons, so each role's limits
 * are enforced here, on the server: a write its role may not do answers 403 (board-actions.ts).
 * Every write, refused ones included, is noted for the audit row written after the answer.
 */
export async function registerBoard(app: FastifyInstance, deps: BoardDeps): Promise<void> {
  const book = new BoardAccountBook(deps.accounts, deps.trustedProxies);
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BOARD_PATH);
  createBullBoard({
    // Masked as the logs are, for every role; stack traces for admins only (board-redaction.ts).
    queues: deps.names.map((name) => maskedAdapter(deps.queues.get(name), queueDescription(deps.registry, name))),
    serverAdapter,
    options: { uiConfig: boardUiConfig(deps.locale), handlerHooks: boardMaskingHooks() },
  });
  // After createBullBoard, which points the adapter at Bull Board's own template (board-ui.ts).
  serverAdapter.setViewsPath(BOARD_VIEWS_DIR);

  await app.register(async (board) => {
    board.addHook('onRequest', async (request, reply) => {
      const action = writeAction(request);
      const params = request.params as Params;
      const target = { actorKind: 'board' as const, queue: params.queueName ?? null, jobIds: params.jobId ? [params.jobId] : null };
      // Noted before the login, so a 401 or 429 on a write is audited with the name it tried.
      if (action) {
        const tried = book.proxyName(request.headers, request.socket.remoteAddress) ?? basicCredentials(request.headers.authorization)?.username ?? null;
        noteAudit(request, { ...target, actor: tried, role: null, action: action.name });
      }
      const identity = await boardLogin(request, reply, { book, throttle: deps.throttle, log: deps.log });
      if (!identity) return reply;
      boardIdentities.set(request.headers, identity);
      if (!action) return;
      noteAudit(request, { ...target, actor: identity.name, role: identity.role, action: action.name });
      if (!mayDo(identity.role, action)) {
        deps.log.warn({ user: identity.name, board: identity.role, action: action.name }, 'dashboard write refused: role');
        return sendError(reply, 403, { error: 'forbidden', message: `the ${identity.role} role may not ${action.name}` });
      }
      if (!isSameOrigin(request.headers.origin, request.headers.host, deps.publicUrl)) {
        return sendError(reply, 403, { error: 'cross_origin', message: 'dashboard writes must come from the dashboard itself' });
      }
      deps.log.info({ method: request.method, route: request.url.split('?')[0], board: identity.role, user: identity.name, action: action.name }, 'dashboard write');
    });
    // What each role is shown of the page's controls (board-role-script.ts).
    registerRoleScript(board, BOARD_PATH);
    await board.register(serverAdapter.registerPlugin(), { prefix: BOARD_PATH });
  });
}
