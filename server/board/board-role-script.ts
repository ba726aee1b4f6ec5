import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { projectRoot } from '../../lib/paths';
import { boardIdentities } from './board-accounts';

/**
 * Bull Board 9.10.1 hides write controls only all at once (readOnlyMode), which would take retry,
 * promote and pause from operators too. So the page carries the user's role (`data-hub-role` on
 * `<html>`, views/index.ejs) and a script of ours, assets/board-roles.js, hides from operators the
 * controls of the admin's actions (board-actions.ts) and keeps Bull Board's confirmations on for
 * everyone. It only tidies the page: the server refuses those actions to operators whatever it shows.
 */

/** Under the board, so the same login covers it; the page's `<base>` makes its relative `src` this. */
export const ROLE_SCRIPT_ROUTE = '/hub/board-roles.js';

/** Read from the sources, as the template is: the build compiles .ts only. */
const ROLE_SCRIPT_FILE = join(projectRoot(__dirname), 'server', 'board', 'assets', 'board-roles.js');

/**
 * @fastify/view renders the page with `reply.locals` merged into its variables; it declares no type
 * for them. Its own onRequest hook empties them, so they are set in preHandler, after every onRequest.
 */
type ReplyWithLocals = FastifyReply & { locals?: Record<string, unknown> | null };

/** Serves the script under `boardPath` and gives every board page its user's role. */
export function registerRoleScript(board: FastifyInstance, boardPath: string): void {
  const script = readFileSync(ROLE_SCRIPT_FILE, 'utf8');
  board.get(`${boardPath}${ROLE_SCRIPT_ROUTE}`, async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(script));
  board.addHook('preHandler', async (request, reply: ReplyWithLocals) => {
    const identity = boardIdentities.get(request.headers);
    if (identity) reply.locals = { ...(reply.locals ?? {}), hubRole: identity.role };
  });
}
