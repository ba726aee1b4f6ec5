import { buildRegistry, type JobDefinition } from './define-job';
import { couponExpire } from './coupon-expire.job';
import { groupBuyFillRobots } from './group-buy-fill-robots.job';
import { groupBuyCloseTeams } from './group-buy-close-teams.job';
import { groupBuyRemind } from './group-buy-remind.job';
import { eventRemindSessions } from './event-remind-sessions.job';
import { shareAggregate } from './share-aggregate.job';
import { shareRebuild } from './share-rebuild.job';
import { schoolSync } from './school-sync.job';
import { familySync } from './family-sync.job';
import { emailSend } from './email-send.job';
import { hubCanary } from './hub-canary.job';
import { notifyDispatch } from './notify-dispatch.job';
import { refundSubmit } from './refund-submit.job';
import { refundSync } from './refund-sync.job';
import { smsCodeCleanup } from './sms-code-cleanup.job';
import { smsSend } from './sms-send.job';
import { wechatPayCloseExpired } from './wechat-pay-close-expired.job';
import { wechatPayHandleNotification } from './wechat-pay-handle-notification.job';
import { wechatPayReconcileBill } from './wechat-pay-reconcile-bill.job';
import { wechatPaySyncOrder } from './wechat-pay-sync-order.job';
import { wechatPaySyncStuckOrders } from './wechat-pay-sync-stuck-orders.job';
import { appleClaimOrphans } from './apple-claim-orphans.job';
import { appleHandleNotification } from './apple-handle-notification.job';
import { appleReconcile } from './apple-reconcile.job';
import { appleSyncSubscriptions } from './apple-sync-subscriptions.job';
import { wechatSendSubscribe } from './wechat-send-subscribe.job';
import { wechatSendTemplate } from './wechat-send-template.job';

/** Every job the hub runs: the only registry. */
export const JOBS: readonly JobDefinition[] = [
  smsCodeCleanup,
  hubCanary,
  wechatPayHandleNotification,
  wechatPaySyncOrder,
  wechatPaySyncStuckOrders,
  wechatPayCloseExpired,
  wechatPayReconcileBill,
  appleHandleNotification,
  appleClaimOrphans,
  appleSyncSubscriptions,
  appleReconcile,
  refundSubmit,
  refundSync,
  smsSend,
  wechatSendTemplate,
  wechatSendSubscribe,
  emailSend,
  notifyDispatch,
  couponExpire,
  groupBuyFillRobots,
  groupBuyCloseTeams,
  groupBuyRemind,
  eventRemindSessions,
  shareAggregate,
  shareRebuild,
  schoolSync,
  familySync,
];

export const registry = buildRegistry(JOBS);

export {
  appleClaimOrphans,
  appleHandleNotification,
  appleReconcile,
  appleSyncSubscriptions,
  couponExpire,
  groupBuyFillRobots,
  groupBuyCloseTeams,
  groupBuyRemind,
  eventRemindSessions,
  shareAggregate,
  shareRebuild,
  schoolSync,
  familySync,
  emailSend,
  hubCanary,
  notifyDispatch,
  refundSubmit,
  refundSync,
  smsCodeCleanup,
  smsSend,
  wechatPayCloseExpired,
  wechatPayHandleNotification,
  wechatPayReconcileBill,
  wechatPaySyncOrder,
  wechatPaySyncStuckOrders,
  wechatSendSubscribe,
  wechatSendTemplate,
};
