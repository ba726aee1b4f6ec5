import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/** `group_buy_event_rule` 拼课团规则表, which the marketing system's DDL names without columns: the working columns of docs/data.md, one rule per event. */
@Entity('group_buy_event_rule')
@Index('idx_group_buy_event_rule_event', ['groupBuyEventId'])
export class GroupBuyEventRule {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'group_buy_event_id', type: 'bigint' })
  groupBuyEventId!: string;

  @Column({ name: 'team_size', type: 'int' })
  teamSize!: number;

  @Column({ name: 'robot_enabled', type: 'tinyint', default: 0 })
  robotEnabled!: number;

  /** Robots may fill a team once its expire_time is at most this many minutes away. */
  @Column({ name: 'robot_fill_minutes_before_expire', type: 'int', default: 0 })
  robotFillMinutesBeforeExpire!: number;

  @Column({ name: 'max_robots_per_team', type: 'int', default: 0 })
  maxRobotsPerTeam!: number;

  @Column({ name: 'refund_on_fail', type: 'tinyint', default: 1 })
  refundOnFail!: number;

  @Column({ name: 'created_time', type: 'datetime', nullable: true })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true })
  updatedTime!: Date | null;

  @Column({ type: 'tinyint', default: 0 })
  deleted!: number;
}
