import type { SelectQueryBuilder } from 'typeorm';
import type { GroupBuyEventTeam } from '../../../entities/marketing/group-buy-event-team.entity';

/** Where a walk along a team index stopped: its last row's time and id. */
export interface TeamCursor {
  at: Date;
  id: string;
}

export interface TeamPage {
  ids: string[];
  next: TeamCursor | null;
}

/**
 * The next page of teams `q` selects (alias `t`), in (time, id) order after `after`: the order of
 * the (status, time) indexes, so each page reads only its own rows however many teams wait, and
 * teams sharing one time are neither skipped nor read twice.
 */
export async function nextTeamPage(
  q: SelectQueryBuilder<GroupBuyEventTeam>,
  timeColumn: 'expire_time' | 'closed_time',
  after: TeamCursor | null,
  limit: number,
): Promise<TeamPage> {
  q.select('t.id', 'id').addSelect(`t.${timeColumn}`, 'at');
  if (after) q.andWhere(`(t.${timeColumn} > :afterAt OR (t.${timeColumn} = :afterAt AND t.id > :afterId))`, { afterAt: after.at, afterId: after.id });
  const rows = await q.orderBy(`t.${timeColumn}`, 'ASC').addOrderBy('t.id', 'ASC').limit(limit).getRawMany<{ id: string | number; at: Date }>();
  const last = rows[rows.length - 1];
  return { ids: rows.map((r) => String(r.id)), next: last ? { at: last.at, id: String(last.id) } : null };
}
