import { buildRegistry, type JobDefinition } from './define-job';
import { couponExpire } from './marketing/coupon/coupon-expire.job';
import { groupBuyFillRobots } from './marketing/group-buy/group-buy-fill-robots.job';
import { groupBuyCloseTeams } from './marketing/group-buy/group-buy-close-teams.job';
import { groupBuyRemind } from './marketing/remind/group-buy-remind.job';
import { eventRemindSessions } from './marketing/remind/event-remind-sessions.job';
import { shareAggregate } from './marketing/share/share-aggregate.job';
import { shareRebuild } from './marketing/share/share-rebuild.job';
import { schoolSync } from './school/school-sync.job';
import { familySync } from './school/family-sync.job';
import { emailSend } from './messaging/email-send.job';
import { hubCanary } from './ops/hub-canary.job';
import { hubRetention } from './ops/hub-retention.job';
import { notifyDispatch } from './messaging/notify-dispatch.job';
import { refundSubmit } from './wechat-pay/refund-submit.job';
import { refundSync } from './wechat-pay/refund-sync.job';
import { smsCodeCleanup } from './ops/sms-code-cleanup.job';
import { smsSend } from './messaging/sms-send.job';
import { wechatPayCloseExpired } from './wechat-pay/wechat-pay-close-expired.job';
import { wechatPayHandleNotification } from './wechat-pay/wechat-pay-handle-notification.job';
import { wechatPayReconcileBill } from './wechat-pay/wechat-pay-reconcile-bill.job';
import { wechatPaySyncOrder } from './wechat-pay/wechat-pay-sync-order.job';
import { wechatPaySyncStuckOrders } from './wechat-pay/wechat-pay-sync-stuck-orders.job';
import { appleClaimOrphans } from './apple/apple-claim-orphans.job';
import { appleHandleNotification } from './apple/apple-handle-notification.job';
import { appleReconcile } from './apple/apple-reconcile.job';
import { appleSyncSubscriptions } from './apple/apple-sync-subscriptions.job';
import { wechatSendSubscribe } from './messaging/wechat-send-subscribe.job';
import { wechatSendTemplate } from './messaging/wechat-send-template.job';

/** Every job the hub runs: the only registry. */
export const JOBS: readonly JobDefinition[] = [
  smsCodeCleanup,
  hubCanary,
  hubRetention,
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
