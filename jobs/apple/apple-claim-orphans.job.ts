import { z } from 'zod';
import { AppleOrder } from '../../entities/app/apple-order.entity';
import { AppleProduct } from '../../entities/app/apple-product.entity';
import { AppUser } from '../../entities/app/user.entity';
import { DmsBusinessLog } from '../../entities/dms/dms-business-log.entity';
import { HubAppleOrphan } from '../../entities/hub/hub-apple-orphan.entity';
import { HubAppleSubscription } from '../../entities/hub/hub-apple-subscription.entity';
import { HubAppleTransaction } from '../../entities/hub/hub-apple-transaction.entity';
import { HubAppleVip } from '../../entities/hub/hub-apple-vip.entity';
import { defineJob, done } from '../define-job';
import { claimableOrphans } from './apple-orphans';
import { claimAppleOrphan } from './apply-apple-transaction';

/**
 * Parked App Store transactions whose user has appeared since (the app recorded the purchase from
 * its receipt, or registered the user the appAccountToken names) are applied to that user. A
 * notification that finds a user claims its own subscription's orphans at once; this catches the
 * ones no later notification will come for.
 */
export const appleClaimOrphans = defineJob({
  name: 'apple-claim-orphans',
  queue: 'payments',
  description: 'Apply parked App Store transactions (hub_apple_orphan) whose user has appeared',
  payload: z.strictObject({ batchSize: z.number().int().min(1).max(5_000).default(500) }),
  entities: [HubAppleOrphan, AppleOrder, AppleProduct, AppUser, HubAppleSubscription, HubAppleTransaction, HubAppleVip, DmsBusinessLog],
  options: { attempts: 3, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle({ batchSize }, ctx) {
    let applied = 0;
    let afterId = '0';
    while (!ctx.signal.aborted) {
      const { rows, lastId } = await claimableOrphans(ctx.db, afterId, batchSize);
      if (lastId === null) break;
      for (const orphan of rows) {
        const outcome = await claimAppleOrphan(ctx.db, ctx.integrations.apple, orphan.id, { now: ctx.now(), log: ctx.log });
        if (outcome && !outcome.orphaned) applied += 1;
      }
      afterId = lastId;
    }
    return done({ applied });
  },
});
