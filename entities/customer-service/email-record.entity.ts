import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';
import { bigintNumber } from '../transformers';

/** Seed 002 `EmailRecord` (GORM table `email_records`): one e-mail sent, with its copy list. */
@Entity('email_records')
export class EmailRecord {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Index('idx_email_records_email_id', { unique: true })
  @Column({ name: 'email_id', type: 'varchar', length: 50 })
  emailId!: string;

  /** `to` is a reserved word: TypeORM quotes every column name, hand-written SQL must too. */
  @Column({ name: 'to', type: 'varchar', length: 200 })
  to!: string;

  @Column({ type: 'varchar', length: 500, nullable: true })
  cc!: string | null;

  @Column({ type: 'varchar', length: 200 })
  subject!: string;

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
}
