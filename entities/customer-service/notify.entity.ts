import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from '../transformers';

/** 通知类型: 1 站内信, 2 邮件, 3 短信. */
export const NotifyType = { IN_APP: 1, EMAIL: 2, SMS: 3 } as const;
/** `notifies.status`: 0 待发送, 1 已发送, 2 发送失败. */
export const NotifyStatus = { PENDING: 0, SENT: 1, FAILED: 2 } as const;

/** Seed 002 `Notify` (GORM table `notifies`): one notification to a user, in-app, by e-mail or by SMS. */
@Entity('notifies')
export class Notify {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Index('idx_notifies_notify_id', { unique: true })
  @Column({ name: 'notify_id', type: 'varchar', length: 50 })
  notifyId!: string;

  @Index('idx_notifies_project_id')
  @Column({ name: 'project_id', type: 'varchar', length: 50 })
  projectId!: string;

  @Index('idx_notifies_user_id')
  @Column({ name: 'user_id', type: 'varchar', length: 50 })
  userId!: string;

  /** 通知类型 1:站内信 2:邮件 3:短信 */
  @Column({ type: 'bigint', nullable: true, comment: '通知类型 1:站内信 2:邮件 3:短信', transformer: bigintNumber })
  type!: number | null;

  @Column({ type: 'varchar', length: 200 })
  title!: string;

  @Column({ type: 'text' })
  content!: string;

  /** 状态 0:待发送 1:已发送 2:发送失败 */
  @Column({ type: 'bigint', nullable: true, default: 0, comment: '状态 0:待发送 1:已发送 2:发送失败', transformer: bigintNumber })
  status!: number | null;

  @Column({ name: 'send_time', type: 'datetime', precision: 3, nullable: true })
  sendTime!: Date | null;

  @Column({ name: 'error_msg', type: 'text', nullable: true })
  errorMsg!: string | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, nullable: true })
  createdAt!: Date | null;

  @Column({ name: 'updated_at', type: 'datetime', precision: 3, nullable: true })
  updatedAt!: Date | null;
}
