import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * What the hub last wrote to a user's VIP fields, and what it found written there by someone else
 * (the app's Android orders, admins). The app writes the same columns, so a value that is not the
 * hub's own is kept as a floor under Apple's grants instead of being overwritten by them.
 */
@Entity('hub_apple_vip')
export class HubAppleVip {
  @PrimaryColumn({ type: 'int', unsigned: true })
  uid!: number;

  /** `user.vip_expired_at` as the hub last left it; null when it wrote null or never wrote it. */
  @Column({ name: 'written_vip_expired_at', type: 'datetime', nullable: true })
  writtenVipExpiredAt!: Date | null;

  /** The latest `vip_expired_at` someone else wrote. */
  @Column({ name: 'foreign_floor', type: 'datetime', nullable: true })
  foreignFloor!: Date | null;

  /** `user.is_forever_vip` as the hub last left it; null when it never wrote it. */
  @Column({ name: 'written_forever', type: 'tinyint', nullable: true })
  writtenForever!: number | null;

  /** The latest `is_forever_vip` someone else wrote. */
  @Column({ name: 'foreign_forever', type: 'tinyint', default: 0 })
  foreignForever!: number;

  @Column({ name: 'updated_time', type: 'datetime', precision: 3 })
  updatedTime!: Date;
}
