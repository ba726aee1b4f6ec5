import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * `group_buy_event_robot_record` 拼课团机器人记录表: a robot's place in a team. The unique key
 * (team, robot) is what keeps a robot from joining one team twice, whoever fills it.
 */
@Entity('group_buy_event_robot_record')
@Index('uk_group_buy_event_robot_record_team_robot', ['groupBuyEventTeamId', 'robotId'], { unique: true })
export class GroupBuyEventRobotRecord {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'group_buy_event_id', type: 'bigint' })
  groupBuyEventId!: string;

  @Column({ name: 'group_buy_event_team_id', type: 'bigint' })
  groupBuyEventTeamId!: string;

  @Column({ name: 'robot_id', type: 'bigint' })
  robotId!: string;

  @Column({ name: 'group_buy_event_order_id', type: 'bigint', nullable: true })
  groupBuyEventOrderId!: string | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true })
  createdTime!: Date | null;
}
