import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Seed 001 `feeder_school` (直属学校表), kept by school-sync from the school system (ZYEDU_TMS).
 * The unique key on `third_id` is the hub's addition (the seed gives none): the sync upserts by it.
 */
@Entity('feeder_school')
@Index('uk_feeder_school_third_id', ['thirdId'], { unique: true })
export class FeederSchool {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'third_id', type: 'bigint', nullable: true })
  thirdId!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: '学校名' })
  name!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '省份' })
  province!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true, comment: '城市' })
  city!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: '地址' })
  address!: string | null;

  @Column({ type: 'tinyint', nullable: true })
  status!: number | null;

  @Column({ name: 'third_modify_id', type: 'bigint', nullable: true })
  thirdModifyId!: string | null;

  @Column({ name: 'third_modify_name', type: 'varchar', length: 255, nullable: true })
  thirdModifyName!: string | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true, comment: '更新时间' })
  updatedTime!: Date | null;

  @Column({ type: 'tinyint', nullable: true, default: 0, comment: '删除标记' })
  deleted!: number | null;
}
