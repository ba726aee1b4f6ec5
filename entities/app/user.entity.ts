import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** 注册来源: 1 手机号, 2 微信, 3 苹果, 99 后台. */
export const AppUserRegFrom = { MOBILE: 1, WECHAT: 2, APPLE: 3, ADMIN: 99 } as const;

/**
 * Seed 003 user (`user` in the app database; a reserved word, so hand-written SQL must quote it).
 * Apple notifications maintain the VIP fields `is_forever_vip` and `vip_expired_at`.
 */
@Entity('user')
export class AppUser {
  @PrimaryGeneratedColumn({ type: 'int', unsigned: true, comment: '用户唯一ID' })
  uid!: number;

  @Column({ name: 'wechat_openid', type: 'varchar', length: 64, nullable: true, comment: '微信 OpenID' })
  wechatOpenid!: string | null;

  @Column({ name: 'wechat_unionid', type: 'varchar', length: 64, nullable: true, comment: '微信 UnionID' })
  wechatUnionid!: string | null;

  @Column({ name: 'apple_userid', type: 'varchar', length: 128, nullable: true, comment: 'Apple 用户ID' })
  appleUserid!: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true, comment: '设备的 OAID' })
  oaid!: string | null;

  @Column({ name: 'device_id', type: 'varchar', length: 128, nullable: true, comment: '设备ID（旧）' })
  deviceId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '用户名' })
  username!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '昵称' })
  nickname!: string | null;

  @Column({ type: 'varchar', length: 16, default: '+86', comment: '国家区号代码（默认：+86）' })
  mcode!: string;

  @Column({ type: 'varchar', length: 32, nullable: true, comment: '手机号' })
  mobile!: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true, comment: '密码签名' })
  password!: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true, comment: '电子邮箱' })
  email!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: '头像URL' })
  avatar!: string | null;

  @Column({ type: 'int', unsigned: true, default: 0, comment: '性别（0=未知，1=男，2=女），默认0' })
  gender!: number;

  /** TypeORM reads a DATE as its `YYYY-MM-DD` text, not a Date. */
  @Column({ type: 'date', nullable: true, comment: '生日（格式：YYYY-MM-DD）' })
  birthday!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '国家' })
  country!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '省份' })
  province!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '城市' })
  city!: string | null;

  @Column({ name: 'reg_ip', type: 'varchar', length: 64, nullable: true, comment: '注册IP地址' })
  regIp!: string | null;

  @Column({ name: 'is_forever_vip', type: 'int', unsigned: true, default: 0, comment: '是否永久VIP（0=否，1=是）默认0' })
  isForeverVip!: number;

  @Column({ name: 'vip_expired_at', type: 'datetime', nullable: true, comment: 'VIP到期时间' })
  vipExpiredAt!: Date | null;

  @Column({ name: 'enter_pass', type: 'varchar', length: 64, nullable: true, comment: '应用启动密码' })
  enterPass!: string | null;

  @Column({ name: 'version_number', type: 'int', unsigned: true, nullable: true, comment: '用户数据版本号' })
  versionNumber!: number | null;

  @Column({ type: 'varchar', length: 64, default: 'official', comment: '渠道标识（默认：official）' })
  channel!: string;

  @Column({ name: 'reg_from', type: 'int', unsigned: true, nullable: true, comment: '注册来源（1=手机号，2=微信，3=苹果，99=后台）' })
  regFrom!: number | null;

  @Column({ name: 'ext_data', type: 'json', nullable: true, comment: '自定义扩展数据（JSON字符串）' })
  extData!: Record<string, unknown> | null;

  @Column({ name: 'created_at', type: 'datetime', nullable: true, comment: '创建时间（注册时间）' })
  createdAt!: Date | null;
}
