import { z } from 'zod';
import { SmsCodeTemp } from '../../entities/customer-service/sms-code-temp.entity';
import { defineJob, done } from '../define-job';
import { pagesById } from '../../lib/pages-by-id';

/**
 * Deletes `sms_code_temps` rows whose `expire_time` has passed, walking the primary key in batches
 * so each DELETE is short. Two runs at once delete each row once: the second finds it gone.
 * Housekeeping the clock runs hourly, so an ops job (docs/architecture.md): no business client asks for it.
 */
export const smsCodeCleanup = defineJob({
  name: 'sms-code-cleanup',
  queue: 'ops',
  description: 'Delete expired one-time SMS codes (sms_code_temps) in primary-key batches',
  payload: z.strictObject({ batchSize: z.number().int().min(1).max(10_000).default(5_000) }),
  entities: [SmsCodeTemp],
  options: { attempts: 3, backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 } },
  async handle({ batchSize }, ctx) {
    const now = ctx.now();
    let deleted = 0;
    const pages = pagesById(batchSize, (afterId) => {
      ctx.signal.throwIfAborted();
      return ctx.db
        .createQueryBuilder(SmsCodeTemp, 't')
        .select('t.id', 'id')
        .where('t.id > :afterId AND t.expire_time < :now', { afterId, now })
        .orderBy('t.id', 'ASC')
        .limit(batchSize)
        .getRawMany<{ id: string }>();
    });
    for await (const batch of pages) {
      const ids = batch.map((row) => BigInt(row.id));
      const result = await ctx.db
        .createQueryBuilder()
        .delete()
        .from(SmsCodeTemp)
        .where('id IN (:...ids) AND expire_time < :now', { ids, now })
        .execute();
      deleted += result.affected ?? 0;
      await ctx.progress(deleted);
    }
    ctx.log.info({ deleted }, 'expired sms codes deleted');
    return done({ deleted });
  },
});
