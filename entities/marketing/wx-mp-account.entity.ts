import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * `wx_mp_account` (the marketing DDL names it; working columns in docs/data.md): official accounts
 * (公众号) that send template messages. The secret is a reference (`file:/path` or
 * `env:NAME`), never the value.
 */
@Entity('wx_mp_account')
@Index('uk_wx_mp_account_appid', ['appid'], { unique: true })
export class WxMpAccount {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true })
  organizationId!: string | null;

  @Column({ type: 'varchar', length: 32 })
  appid!: string;

  @Column({ name: 'secret_ref', type: 'varchar', length: 255 })
  secretRef!: string;

  @Column({ type: 'varchar', length: 64, nullable: true })
  name!: string | null;

  @Column({ type: 'tinyint', default: 1 })
  enabled!: number;

  @Column({ name: 'created_time', type: 'datetime' })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime' })
  updatedTime!: Date;

  @Column({ type: 'tinyint', default: 0 })
  deleted!: number;
}
