import { bigintNumber } from '../transformers';
import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** 0 待发送, 1 已发送, 2 发送失败: the status values of the customer-service DDL's message records. */
export const MessageRecordStatus = { PENDING: 0, SENT: 1, FAILED: 2 } as const;

/** Seed 002 `SMS` (GORM table `sms`): one SMS sent by template, with its parameters as JSON text. */
@Entity('sms')
export class Sms {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Index('idx_sms_sms_id', { unique: true })
  @Column({ name: 'sms_id', type: 'varchar', length: 50 })
  smsId!: string;

  @Index('idx_sms_phone')
  @Column({ type: 'varchar', length: 20 })
  phone!: string;

  @Column({ name: 'template_id', type: 'varchar', length: 50 })
  templateId!: string;

  /** 模板参数JSON */
  @Column({ type: 'text', nullable: true, comment: '模板参数JSON' })
  params!: string | null;

  /** 实际发送内容 */
  @Column({ type: 'text', comment: '实际发送内容' })
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
}
