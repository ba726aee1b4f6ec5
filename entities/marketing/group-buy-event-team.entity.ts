import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type GroupBuyTeamStatus = 'OPEN' | 'SUCCESS' | 'FAILED';

/**
 * `group_buy_event_team` 拼课团团队表, which the marketing system's DDL names without columns: the working columns of docs/data.md.
 * `joined_count` counts every member of the team, robots included; `robot_count` the robots among them.
 */
@Entity('group_buy_event_team')
@Index('idx_group_buy_event_team_status_expire', ['status', 'expireTime'])
@Index('idx_group_buy_event_team_status_closed', ['status', 'closedTime'])
export class GroupBuyEventTeam {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'group_buy_event_id', type: 'bigint' })
  groupBuyEventId!: string;

  @Column({ name: 'organization_id', type: 'bigint', nullable: true })
  organizationId!: string | null;

  @Column({ name: 'leader_member_id', type: 'bigint', nullable: true })
  leaderMemberId!: string | null;

  @Column({ name: 'leader_order_id', type: 'bigint', nullable: true })
  leaderOrderId!: string | null;

  @Column({ type: 'int' })
  size!: number;

  @Column({ name: 'joined_count', type: 'int', default: 0 })
  joinedCount!: number;

  @Column({ name: 'robot_count', type: 'int', default: 0 })
  robotCount!: number;

  @Column({ type: 'varchar', length: 32 })
  status!: GroupBuyTeamStatus;

  @Column({ name: 'expire_time', type: 'datetime', nullable: true })
  expireTime!: Date | null;

  @Column({ name: 'success_time', type: 'datetime', nullable: true })
  successTime!: Date | null;

  @Column({ name: 'closed_time', type: 'datetime', nullable: true })
  closedTime!: Date | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true })
  createdTime!: Date | null;

  @Column({ name: 'updated_time', type: 'datetime', nullable: true })
  updatedTime!: Date | null;

  @Column({ type: 'tinyint', default: 0 })
  deleted!: number;
}
