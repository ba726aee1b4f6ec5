import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** Seed 001 `event_session` 活动场次表: one dated session of an event. */
@Entity('event_session')
@Index('idx_event_session_start', ['startTime'])
export class EventSession {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'member_id', type: 'bigint', nullable: true, comment: '会员id' })
  memberId!: string | null;

  @Column({ name: 'event_id', type: 'bigint', nullable: true, comment: '活动id' })
  eventId!: string | null;

  @Column({ name: 'start_time', type: 'datetime', nullable: true, comment: '开始时间' })
  startTime!: Date | null;

  @Column({ name: 'end_time', type: 'datetime', nullable: true, comment: '结束时间' })
  endTime!: Date | null;

  @Column({ name: 'applicable_store_ids', type: 'varchar', length: 1024, nullable: true })
  applicableStoreIds!: string | null;

  @Column({ name: 'place_type', type: 'varchar', length: 32, nullable: true, comment: 'STORE 为酒店ID集合 其他为默认字符串' })
  placeType!: string | null;

  @Column({ type: 'int', nullable: true, comment: '限额' })
  quota!: number | null;

  @Column({ type: 'varchar', length: 32, nullable: true, comment: '维度' })
  latitude!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true, comment: '精度' })
  longitude!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: '地址' })
  address!: string | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;

  @Column({ type: 'tinyint', nullable: true, default: 0, comment: '删除标记' })
  deleted!: number | null;
}
