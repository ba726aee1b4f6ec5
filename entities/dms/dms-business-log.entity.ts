import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Seed 004 `dms_business_log` 业务日志: the audit row of every status change the hub makes (lib/audit.ts). */
@Entity('dms_business_log')
@Index('idx_business_no', ['businessNo', 'businessSource'])
export class DmsBusinessLog {
  @PrimaryGeneratedColumn({ name: 'log_id', type: 'bigint' })
  logId!: string;

  @Column({ name: 'business_no', type: 'varchar', length: 64 })
  businessNo!: string;

  @Column({ name: 'business_source', type: 'tinyint' })
  businessSource!: number;

  /** 1 create, 2 update, 3 delete */
  @Column({ name: 'operation_type', type: 'tinyint' })
  operationType!: number;

  @Column({ name: 'old_value', type: 'text', nullable: true })
  oldValue!: string | null;

  @Column({ name: 'new_value', type: 'text', nullable: true })
  newValue!: string | null;

  @Column({ name: 'change_fields', type: 'text', nullable: true })
  changeFields!: string | null;

  @Column({ name: 'ip_address', type: 'varchar', length: 45, nullable: true })
  ipAddress!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true })
  remark!: string | null;

  @Column({ name: 'over_flag', type: 'tinyint', default: 0 })
  overFlag!: number;

  @Column({ name: 'create_user', type: 'bigint' })
  createUser!: string;

  @Index('idx_create_time')
  @Column({ name: 'create_time', type: 'datetime' })
  createTime!: Date;

  @Column({ name: 'update_user', type: 'bigint', nullable: true })
  updateUser!: string | null;

  @Index('idx_update_time')
  @Column({ name: 'update_time', type: 'datetime' })
  updateTime!: Date;
}
