import type { EntityManager } from 'typeorm';
import { AppUser } from '../../entities/app/user.entity';
import { NotifyType } from '../../entities/customer-service/notify.entity';
import { Member } from '../../entities/marketing/member.entity';
import type { NotifyRecipientKind } from '../../lib/config-messaging';

/** A `notifies` row waiting to go out, as notify-dispatch reads it. */
export interface PendingNotify {
  id: string;
  notifyId: string;
  projectId: string;
  userId: string;
  type: number | null;
  title: string;
  content: string;
}

export type NotifyTarget = { row: PendingNotify; channel: 'email'; address: string } | { row: PendingNotify; channel: 'sms'; phone: string };

export interface Resolved {
  targets: NotifyTarget[];
  /** Rows that can never be sent as they stand, by reason (the reason becomes their `error_msg`). */
  unresolved: Map<string, PendingNotify[]>;
}

/** `member.id` is a bigint, `user.uid` an unsigned int: anything else matches no row. */
const MEMBER_ID = /^[1-9]\d{0,18}$/;
const USER_ID = /^[1-9]\d{0,9}$/;
const MAX_UID = 4_294_967_295;

interface Contact {
  email: string | null;
  mobile: string | null;
}

function validId(kind: NotifyRecipientKind, id: string): boolean {
  return kind === 'member' ? MEMBER_ID.test(id) : USER_ID.test(id) && Number(id) <= MAX_UID;
}

/** One query per kind: the e-mail and mobile of every id asked for that exists (members not deleted). */
async function contacts(db: EntityManager, kind: NotifyRecipientKind, ids: readonly string[]): Promise<Map<string, Contact>> {
  const found = new Map<string, Contact>();
  if (ids.length === 0) return found;
  const rows =
    kind === 'member'
      ? await db
          .createQueryBuilder(Member, 'm')
          .select('m.id', 'id')
          .addSelect('m.email', 'email')
          .addSelect('m.mobile', 'mobile')
          .where('m.id IN (:...ids) AND COALESCE(m.deleted, 0) = 0', { ids })
          .getRawMany<{ id: string | number; email: string | null; mobile: string | null }>()
      : await db
          .createQueryBuilder(AppUser, 'u')
          .select('u.uid', 'id')
          .addSelect('u.email', 'email')
          .addSelect('u.mobile', 'mobile')
          .where('u.uid IN (:...ids)', { ids: ids.map(Number) })
          .getRawMany<{ id: string | number; email: string | null; mobile: string | null }>();
  for (const r of rows) found.set(String(r.id), { email: r.email, mobile: r.mobile });
  return found;
}

const blank = (v: string | null): boolean => v === null || v.trim() === '';

/**
 * Where each e-mail and SMS notification goes. `recipients` maps a project (or `*`) to the table its
 * `user_id` points into; a row that cannot be sent (unmapped project, no such person, no address,
 * an unknown type) comes back with the reason instead.
 */
export async function resolveNotifyRecipients(db: EntityManager, rows: readonly PendingNotify[], recipients: ReadonlyMap<string, NotifyRecipientKind>): Promise<Resolved> {
  const unresolved = new Map<string, PendingNotify[]>();
  const fail = (reason: string, row: PendingNotify): void => {
    const list = unresolved.get(reason) ?? [];
    list.push(row);
    unresolved.set(reason, list);
  };
  const wanted: { row: PendingNotify; kind: NotifyRecipientKind }[] = [];
  const ids: Record<NotifyRecipientKind, Set<string>> = { member: new Set(), user: new Set() };
  for (const row of rows) {
    if (row.type !== NotifyType.EMAIL && row.type !== NotifyType.SMS) {
      fail(`unknown notify type ${String(row.type)}`, row);
      continue;
    }
    const kind = recipients.get(row.projectId) ?? recipients.get('*');
    if (!kind) {
      fail(`project ${row.projectId} has no recipient table (NOTIFY_RECIPIENTS)`, row);
      continue;
    }
    if (!validId(kind, row.userId)) {
      fail(`user_id is not a ${kind} id`, row);
      continue;
    }
    ids[kind].add(row.userId);
    wanted.push({ row, kind });
  }
  const found = { member: await contacts(db, 'member', [...ids.member]), user: await contacts(db, 'user', [...ids.user]) };
  const targets: NotifyTarget[] = [];
  for (const { row, kind } of wanted) {
    const contact = found[kind].get(row.userId);
    if (!contact) {
      fail(kind === 'member' ? 'no member with this user_id (or deleted)' : 'no user with this user_id', row);
    } else if (row.type === NotifyType.EMAIL) {
      if (blank(contact.email)) fail(`${kind} has no email`, row);
      else targets.push({ row, channel: 'email', address: (contact.email ?? '').trim() });
    } else if (blank(contact.mobile)) {
      fail(`${kind} has no mobile`, row);
    } else {
      targets.push({ row, channel: 'sms', phone: (contact.mobile ?? '').trim() });
    }
  }
  return { targets, unresolved };
}
