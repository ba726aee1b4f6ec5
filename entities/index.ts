import type { SystemName } from '../lib/config';
import { AndroidOrder } from './app/android-order.entity';
import { AppleOrder } from './app/apple-order.entity';
import { AppleProduct } from './app/apple-product.entity';
import { AppUser } from './app/user.entity';
import { DmsBusinessLog } from './dms/dms-business-log.entity';
import { EmailRecord } from './customer-service/email-record.entity';
import { Notify } from './customer-service/notify.entity';
import { SmsCodeTemp } from './customer-service/sms-code-temp.entity';
import { Sms } from './customer-service/sms.entity';
import { HubAlert } from './hub/hub-alert.entity';
import { HubAppleOrphan } from './hub/hub-apple-orphan.entity';
import { HubAppleSubscription } from './hub/hub-apple-subscription.entity';
import { HubAppleTransaction } from './hub/hub-apple-transaction.entity';
import { HubAppleVip } from './hub/hub-apple-vip.entity';
import { HubAudit } from './hub/hub-audit.entity';
import { HubCanary } from './hub/hub-canary.entity';
import { HubCursor } from './hub/hub-cursor.entity';
import { HubMessageDelivery } from './hub/hub-message-delivery.entity';
import { HubOutbox } from './hub/hub-outbox.entity';
import { HubReconciliationBillRow } from './hub/hub-reconciliation-bill-row.entity';
import { HubReconciliationItem } from './hub/hub-reconciliation-item.entity';
import { HubReconciliationRun } from './hub/hub-reconciliation-run.entity';
import { HubSmsTemplate } from './hub/hub-sms-template.entity';
import { HubShareFirstReach } from './hub/hub-share-first-reach.entity';
import { HubShareFirstReferral } from './hub/hub-share-first-referral.entity';
import { HubShareResource } from './hub/hub-share-resource.entity';
import { DiscountCouponCode } from './marketing/discount-coupon-code.entity';
import { GroupBuyEvent } from './marketing/group-buy-event.entity';
import { GroupBuyEventTeam } from './marketing/group-buy-event-team.entity';
import { GroupBuyEventRule } from './marketing/group-buy-event-rule.entity';
import { GroupBuyEventRobot } from './marketing/group-buy-event-robot.entity';
import { GroupBuyEventRobotRecord } from './marketing/group-buy-event-robot-record.entity';
import { MarketingEvent } from './marketing/event.entity';
import { EventSession } from './marketing/event-session.entity';
import { ShareTracking } from './marketing/share-tracking.entity';
import { MemberChildInfo } from './marketing/member-child-info.entity';
import { ResourceShareInfo } from './marketing/resource-share-info.entity';
import { EventOrder } from './marketing/event-order.entity';
import { GroupBuyEventOrder } from './marketing/group-buy-event-order.entity';
import { Member } from './marketing/member.entity';
import { FamilyMembers } from './marketing/family-members.entity';
import { FeederSchool } from './marketing/feeder-school.entity';
import { PayNotifyLog } from './marketing/pay-notify-log.entity';
import { PaymentOrder } from './marketing/payment-order.entity';
import { RefundOrder } from './marketing/refund-order.entity';
import { WxMiniappAccount } from './marketing/wx-miniapp-account.entity';
import { WxMpAccount } from './marketing/wx-mp-account.entity';
import { WxPayConfig } from './marketing/wx-pay-config.entity';

/** Every entity and the system (hence the database) its table belongs to. */
const ENTITY_LIST = [
  [PaymentOrder, 'marketing'],
  [RefundOrder, 'marketing'],
  [PayNotifyLog, 'marketing'],
  [WxPayConfig, 'marketing'],
  [EventOrder, 'marketing'],
  [GroupBuyEventOrder, 'marketing'],
  [Member, 'marketing'],
  [FeederSchool, 'marketing'],
  [FamilyMembers, 'marketing'],
  [DiscountCouponCode, 'marketing'],
  [GroupBuyEvent, 'marketing'],
  [GroupBuyEventTeam, 'marketing'],
  [GroupBuyEventRule, 'marketing'],
  [GroupBuyEventRobot, 'marketing'],
  [GroupBuyEventRobotRecord, 'marketing'],
  [MarketingEvent, 'marketing'],
  [EventSession, 'marketing'],
  [ShareTracking, 'marketing'],
  [MemberChildInfo, 'marketing'],
  [ResourceShareInfo, 'marketing'],
  [WxMpAccount, 'marketing'],
  [WxMiniappAccount, 'marketing'],
  [AndroidOrder, 'app'],
  [AppUser, 'app'],
  [AppleOrder, 'app'],
  [AppleProduct, 'app'],
  [SmsCodeTemp, 'customerService'],
  [Sms, 'customerService'],
  [Notify, 'customerService'],
  [EmailRecord, 'customerService'],
  [DmsBusinessLog, 'dms'],
  [HubOutbox, 'hub'],
  [HubCursor, 'hub'],
  [HubCanary, 'hub'],
  [HubReconciliationRun, 'hub'],
  [HubReconciliationItem, 'hub'],
  [HubReconciliationBillRow, 'hub'],
  [HubMessageDelivery, 'hub'],
  [HubSmsTemplate, 'hub'],
  [HubShareFirstReach, 'hub'],
  [HubShareFirstReferral, 'hub'],
  [HubShareResource, 'hub'],
  [HubAppleOrphan, 'hub'],
  [HubAppleSubscription, 'hub'],
  [HubAppleTransaction, 'hub'],
  [HubAppleVip, 'hub'],
  [HubAudit, 'hub'],
  [HubAlert, 'hub'],
] as const satisfies readonly (readonly [new () => object, SystemName])[];

export const ENTITIES = ENTITY_LIST.map(([entity]) => entity);

export const ENTITY_SYSTEMS: ReadonlyMap<unknown, SystemName> = new Map<unknown, SystemName>(ENTITY_LIST);
