import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Seed 002 `SMSCodeTemp` (GORM table `sms_code_temps`): one-time SMS codes with an expiry. */
@Entity('sms_code_temps')
export class SmsCodeTemp {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Index('idx_sms_code_temps_phone')
  @Column({ type: 'varchar', length: 20 })
  phone!: string;

  @Column({ type: 'varchar', length: 10 })
  code!: string;

  /** 验证码类型 */
  @Column({ type: 'bigint', nullable: true, comment: '验证码类型' })
  type!: string | null;

  @Column({ name: 'expire_time', type: 'datetime', precision: 3 })
  expireTime!: Date;

  /** 是否已使用 */
  @Column({ type: 'boolean', nullable: true, default: false, comment: '是否已使用' })
  used!: boolean | null;

  @Column({ name: 'created_at', type: 'datetime', precision: 3, nullable: true })
  createdAt!: Date | null;
}
