import { join } from 'node:path';
import type { UIConfig } from '@bull-board/api/typings/app';
import type { BoardLocale } from '../../lib/config';
import type { HubRole } from '../../lib/users';
import { projectRoot } from '../../lib/paths';
import { API_DOCS_PATH } from '../api/openapi';

/**
 * Bull Board's page as the hub serves it: no request to another host, the hub's own docs, times in
 * Beijing, and each role shown only the buttons it may use.
 */

/**
 * Our copy of Bull Board's page template (views/index.ejs), without the Google Fonts stylesheet that
 * left the page blank where that host is blocked. The build copies only .ts, so the path is the
 * source folder's, from dist/ as from the sources.
 */
export const BOARD_VIEWS_DIR = join(projectRoot(__dirname), 'server', 'board', 'views');

/** The business day of every system the jobs touch (jobs/schedules.ts CLOCK_TIMEZONE). */
const BEIJING = 'Asia/Shanghai';

/**
 * Bull Board picks its short format for today and its common one for this year by the browser's
 * own calendar, which may not be Beijing's: each shows the date, so no format ever hides a day's
 * difference, and the offset, so no reader takes the time for their own.
 */
const DATE_FORMATS: NonNullable<UIConfig['dateFormats']> = {
  short: { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: BEIJING, timeZoneName: 'shortOffset' },
  common: { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: BEIJING, timeZoneName: 'shortOffset' },
  full: { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZone: BEIJING, timeZoneName: 'shortOffset' },
};

/**
 * The reads for ops the admin opens from the board's link menu: each answers JSON to the board's own
 * login (a browser resends it to the same realm), so no token is needed. The reconciliation reports
 * take API tokens only and are not linked.
 */
const OPS_READS = [
  { url: '/api/v1/alerts', en: 'Recent alerts', zh: '最近告警' },
  { url: '/api/v1/refunds', en: 'Refunds', zh: '退款' },
  { url: '/api/v1/schedule', en: 'Schedule', zh: '定时任务' },
  { url: '/api/v1/audit', en: 'Audit', zh: '操作审计' },
] as const;

export function boardLinks(locale: BoardLocale): { text: string; url: string }[] {
  const chinese = locale === 'zh-CN';
  return [{ text: chinese ? 'API 文档' : 'API docs', url: API_DOCS_PATH }, ...OPS_READS.map((read) => ({ text: chinese ? read.zh : read.en, url: read.url }))];
}

export function boardUiConfig(locale: BoardLocale): UIConfig {
  return {
    boardTitle: 'jobhub',
    locale: { lng: locale },
    // Bull Board's own docs icon points at github.io; ours are served by the hub.
    hideDocsLink: true,
    miscLinks: boardLinks(locale),
    dateFormats: DATE_FORMATS,
  };
}

/** The buttons Bull Board's UI draws for a queue: it reads these flags from each queue of GET /api/queues. */
interface QueueFlags {
  readOnlyMode?: boolean;
  allowRetries?: boolean;
  allowCompletedRetries?: boolean;
}

/**
 * The queue flags one role is shown. The adapters are shared by every user, so the flags are set per
 * answer. The server refuses what the role may not do whatever the flags say (board-actions.ts):
 * these only keep the UI from offering it. Bull Board has no flag per action: re-running completed
 * jobs is the only one hidden here on its own; the admin's other buttons (empty, obliterate, edit…)
 * are hidden from operators by the page's script (board-role-script.ts).
 */
function flagsFor(role: HubRole | undefined): QueueFlags | null {
  if (role === 'admin') return null;
  if (role === 'operator') return { allowCompletedRetries: false };
  return { readOnlyMode: true, allowRetries: false, allowCompletedRetries: false };
}

/** GET /api/queues's answer with each queue's flags set for the role (unknown: the viewer's). */
export function queuesForRole(body: unknown, role: HubRole | undefined): unknown {
  const flags = flagsFor(role);
  if (!flags || body === null || typeof body !== 'object' || !('queues' in body) || !Array.isArray(body.queues)) return body;
  const queues = (body.queues as unknown[]).map((queue) => (queue !== null && typeof queue === 'object' ? { ...queue, ...flags } : queue));
  return { ...body, queues };
}
