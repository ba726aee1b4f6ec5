import type { DataSource, EntityManager } from 'typeorm';
import { AppleOrder } from '../../entities/app/apple-order.entity';
import { AppUser } from '../../entities/app/user.entity';
import { HubAppleOrphan } from '../../entities/hub/hub-apple-orphan.entity';
import { insertIfAbsent } from '../../entities/raw-sql';
import { uidOfAppAccountToken } from './app-account-token';
import type { AppleTransactionState } from './apple-transaction-state';

/**
 * Transactions with no known user wait in `hub_apple_orphan`, one row per transaction holding its
 * newest state. A user "appears" when the app writes a row for the original transaction (its
 * receipt check) or registers the user an appAccountToken names: the hub is told of neither, so
 * every notification that finds a user claims the waiting ones of its subscription and token, and
 * a clock job (`apple-claim-orphans`) claims the rest.
 */

export function tokenOf(state: AppleTransactionState): string | null {
  return state.transaction.appAccountToken ?? state.renewal?.appAccountToken ?? null;
}

/** Parks the state, or replaces a parked older one of the same transaction. */
export async function parkOrphan(m: EntityManager, state: AppleTransactionState, ids: { transactionId: string; originalTransactionId: string }, now: Date): Promise<void> {
  const values = {
    originalTransactionId: ids.originalTransactionId,
    appAccountToken: tokenOf(state),
    environment: state.environment,
    signedDate: state.signedDate,
    state,
    updatedTime: now,
  };
  const inserted = await insertIfAbsent(m, HubAppleOrphan, { ...values, transactionId: ids.transactionId, status: 'PARKED', createdTime: now });
  if (inserted.affectedRows === 1) return;
  await m
    .createQueryBuilder()
    .update(HubAppleOrphan)
    .set(values)
    .where("transaction_id = :tid AND status = 'PARKED' AND signed_date < :signedDate", { tid: ids.transactionId, signedDate: state.signedDate })
    .execute();
}

export interface ParkedOrphan {
  id: string;
  transactionId: string;
}

/** Parked orphans of a subscription or a token, oldest state first (their order of application). */
export async function parkedFor(db: DataSource, originalTransactionId: string, token: string | null): Promise<ParkedOrphan[]> {
  const qb = db
    .createQueryBuilder(HubAppleOrphan, 'o')
    .select(['o.id', 'o.transactionId'])
    .where("o.status = 'PARKED'")
    .andWhere(token ? '(o.original_transaction_id = :otid OR o.app_account_token = :token)' : 'o.original_transaction_id = :otid', { otid: originalTransactionId, token })
    .orderBy('o.signed_date', 'ASC')
    .addOrderBy('o.id', 'ASC');
  return qb.getMany();
}

/**
 * Parked orphans after `afterId` that now have a user: an `apple_order` row with a uid for their
 * original transaction, or a user their token names.
 */
export async function claimableOrphans(db: DataSource, afterId: string, limit: number): Promise<{ rows: ParkedOrphan[]; lastId: string | null }> {
  const batch = await db
    .createQueryBuilder(HubAppleOrphan, 'o')
    .select(['o.id', 'o.transactionId', 'o.originalTransactionId', 'o.appAccountToken'])
    .where("o.status = 'PARKED' AND o.id > :afterId", { afterId: BigInt(afterId) })
    .orderBy('o.id', 'ASC')
    .limit(limit)
    .getMany();
  if (batch.length === 0) return { rows: [], lastId: null };
  const otids = [...new Set(batch.map((o) => o.originalTransactionId))];
  const known = await db
    .createQueryBuilder(AppleOrder, 'a')
    .select('DISTINCT a.original_transaction_id', 'otid')
    .where('a.original_transaction_id IN (:...otids) AND a.uid > 0', { otids })
    .getRawMany<{ otid: string }>();
  const knownOtids = new Set(known.map((k) => k.otid));
  const tokenUids = [...new Set(batch.map((o) => uidOfAppAccountToken(o.appAccountToken)).filter((u): u is number => u !== null))];
  const users = tokenUids.length === 0 ? [] : await db.createQueryBuilder(AppUser, 'u').select(['u.uid']).where('u.uid IN (:...uids)', { uids: tokenUids }).getMany();
  const userIds = new Set(users.map((u) => u.uid));
  const rows = batch.filter((o) => {
    const uid = uidOfAppAccountToken(o.appAccountToken);
    return knownOtids.has(o.originalTransactionId) || (uid !== null && userIds.has(uid));
  });
  return { rows, lastId: batch[batch.length - 1]?.id ?? null };
}

/** The parked row under a lock, if still parked: two claims of one orphan take turns and the second finds it applied. */
export async function lockParked(m: EntityManager, id: string): Promise<HubAppleOrphan | null> {
  return m.createQueryBuilder(HubAppleOrphan, 'o').setLock('pessimistic_write').where("o.id = :id AND o.status = 'PARKED'", { id }).getOne();
}

export async function markApplied(m: EntityManager, id: string, uid: number, now: Date): Promise<void> {
  await m.update(HubAppleOrphan, { id }, { status: 'APPLIED', uid, appliedTime: now, updatedTime: now });
}
