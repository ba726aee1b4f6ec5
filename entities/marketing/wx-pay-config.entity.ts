import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * `wx_pay_config` (the marketing DDL names it; working columns in docs/data.md): merchants beyond the default
 * one of the WECHAT_PAY_* variables. Secrets are references (`file:/path` or `env:NAME`), never values.
 */
@Entity('wx_pay_config')
@Index('idx_wx_pay_config_mchid', ['mchid'])
export class WxPayConfig {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true })
  organizationId!: string | null;

  @Column({ type: 'varchar', length: 32 })
  mchid!: string;

  @Column({ type: 'varchar', length: 32 })
  appid!: string;

  @Column({ name: 'merchant_serial_no', type: 'varchar', length: 64 })
  merchantSerialNo!: string;

  @Column({ name: 'private_key_file', type: 'varchar', length: 255 })
  privateKeyFile!: string;

  @Column({ name: 'api_v3_key_ref', type: 'varchar', length: 255 })
  apiV3KeyRef!: string;

  @Column({ name: 'wechatpay_public_key_id', type: 'varchar', length: 64, nullable: true })
  wechatpayPublicKeyId!: string | null;

  @Column({ name: 'wechatpay_public_key_file', type: 'varchar', length: 255, nullable: true })
  wechatpayPublicKeyFile!: string | null;

  @Column({ type: 'tinyint', default: 1 })
  enabled!: number;

  @Column({ name: 'created_time', type: 'datetime' })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime' })
  updatedTime!: Date;

  @Column({ type: 'tinyint', default: 0 })
  deleted!: number;
}
