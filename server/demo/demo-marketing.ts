import type { DataSource } from 'typeorm';
import { DiscountCouponCode } from '../../entities/marketing/discount-coupon-code.entity';
import { GroupBuyEventOrder } from '../../entities/marketing/group-buy-event-order.entity';
import { GroupBuyEventRobot } from '../../entities/marketing/group-buy-event-robot.entity';
import { GroupBuyEventRule } from '../../entities/marketing/group-buy-event-rule.entity';
import { GroupBuyEventTeam } from '../../entities/marketing/group-buy-event-team.entity';
import { GroupBuyEvent } from '../../entities/marketing/group-buy-event.entity';
import { Member } from '../../entities/marketing/member.entity';
import type { Integrations } from '../../integrations';
import { couponExpire } from '../../jobs/marketing/coupon/coupon-expire.job';
import { groupBuyCloseTeams } from '../../jobs/marketing/group-buy/group-buy-close-teams.job';
import { groupBuyFillRobots } from '../../jobs/marketing/group-buy/group-buy-fill-robots.job';
import { groupBuyRemind } from '../../jobs/marketing/remind/group-buy-remind.job';
import type { Enqueue } from '../../jobs/context';
import type { Logger } from '../../lib/logger';
import { beijingSlot } from '../../lib/time';
import { approveDemoTemplates, type DemoSmsTemplate } from './demo-messaging';

export interface MarketingDemoDeps {
  db: DataSource;
  integrations: Integrations;
  enqueue: Enqueue;
  log: Logger;
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

const TEMPLATES: readonly DemoSmsTemplate[] = [
  {
    templateKey: 'group-buy-success', content: '您参加的${event}已成团，核销码${code}。',
    aliyunTemplateCode: 'SMS_100000003', aliyunSignName: '营销中台', aliyunParams: { event: 'event', code: 'code' },
    tencentTemplateId: '1000003', tencentSignName: '营销中台', tencentParams: ['event', 'code'], enabled: 1,
  },
  {
    templateKey: 'group-buy-remind', content: '您参加的${eventName}将于${endTime}结束，快邀请好友成团吧。',
    aliyunTemplateCode: 'SMS_100000004', aliyunSignName: '营销中台', aliyunParams: { name: 'eventName', time: 'endTime' },
    tencentTemplateId: '1000004', tencentSignName: '营销中台', tencentParams: ['eventName', 'endTime'], enabled: 1,
  },
];

/**
 * `npm start` in development: a group-buy event whose reminder is due, a team within robots' reach
 * (filled and its member told within a minute), a team already expired (failed, its unpaid order
 * cancelled), one open for two more hours (its member reminded), and a thousand coupons of which
 * 600 are past their end (expired by the next run).
 */
export async function seedMarketingDemo(deps: MarketingDemoDeps): Promise<void> {
  const { db, integrations, enqueue, log } = deps;
  const now = new Date();
  const at = (offsetMs: number): Date => new Date(now.getTime() + offsetMs);
  const run = `demo${beijingSlot(now, true)}`;
  await approveDemoTemplates(db, integrations, TEMPLATES, now);

  const stamps = { createdTime: now, updatedTime: now, deleted: 0 };
  const event = await db.getRepository(GroupBuyEvent).save({
    titile: '周末亲子手工课拼团', status: 'OPEN', enable: 1, beginTime: at(-2 * HOUR_MS), endTime: at(3 * DAY_MS),
    remindTimeType: 'BEGIN', remindHours: 1, price: 9_900, ...stamps,
  });
  await db.getRepository(GroupBuyEventRule).insert({
    groupBuyEventId: event.id, teamSize: 3, robotEnabled: 1, robotFillMinutesBeforeExpire: 30, maxRobotsPerTeam: 2, refundOnFail: 1, ...stamps,
  });
  await db.getRepository(GroupBuyEventRobot).insert(['小美', '小帅', '小艾'].map((name) => ({ name, enabled: 1, ...stamps })));

  const team = async (expireTime: Date, mobile: string): Promise<void> => {
    const member = await db.getRepository(Member).save({ name: '拼团会员', nickName: 'demo', mobile, ...stamps });
    const row = await db.getRepository(GroupBuyEventTeam).save({ groupBuyEventId: event.id, size: 3, joinedCount: 1, robotCount: 0, status: 'OPEN', expireTime, ...stamps });
    await db.getRepository(GroupBuyEventOrder).insert({
      groupBuyEventId: event.id, groupBuyEventName: event.titile, groupBuyEventTeamId: row.id, size: 3, memberId: member.id, memberName: member.name, memberMobile: mobile,
      status: 'JOINED', pamentStatus: 'NONE', robot: 0, teamLeader: 1, createdTime: now, updatedTime: now,
    });
  };
  await team(at(10 * MINUTE_MS), '13900139001');
  await team(at(-5 * MINUTE_MS), '13900139002');
  await team(at(2 * HOUR_MS), '13900139003');

  const coupon = (i: number): Partial<DiscountCouponCode> => ({
    code: `${run}-${i}`, discountCouponId: String(1 + (i % 3)), dicountCouponName: '新人立减券',
    status: i % 5 === 4 ? 'USED' : 'UNUSED', effectStartTime: at(-30 * DAY_MS), effectEndTime: i % 5 < 3 ? at(-DAY_MS) : at(7 * DAY_MS), ...stamps,
  });
  await db.getRepository(DiscountCouponCode).insert(Array.from({ length: 1_000 }, (_, i) => coupon(i)));

  for (const job of [couponExpire, groupBuyFillRobots, groupBuyCloseTeams, groupBuyRemind]) await enqueue(job, {});
  log.info({ run, groupBuyEventId: event.id }, 'demo marketing data written: a group-buy event with three teams, 1,000 coupons (600 past their end)');
}
