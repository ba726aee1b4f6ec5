import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** `group_buy_event_robot` 拼课团机器人表, the robot pool (the marketing DDL names it without columns). */
@Entity('group_buy_event_robot')
export class GroupBuyEventRobot {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true })
  organizationId!: string | null;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ name: 'head_url', type: 'varchar', length: 512, nullable: true })
  headUrl!: string | null;

  @Column({ type: 'tinyint', default: 1 })
  enabled!: number;

  @Column({ name: 'created_time', type: 'datetime', nullable: true })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true })
  updatedTime!: Date | null;

  @Column({ type: 'tinyint', default: 0 })
  deleted!: number;
}
