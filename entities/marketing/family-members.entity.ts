import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * Seed 001 `family_members` (家庭成员表): a member's family as third systems know it. family-sync
 * keeps the ZYEDU_TMS children (relation CHILDREN) and never touches rows of other `third_code`s.
 * `brithday` is spelled so in the source.
 */
@Entity('family_members')
@Index('uk_family_members_member_third', ['memberId', 'thirdCode', 'thirdMemberId'], { unique: true })
@Index('idx_family_members_third_member', ['thirdMemberId'])
export class FamilyMembers {
  @PrimaryGeneratedColumn({ type: 'bigint' })
  id!: string;

  @Column({ name: 'member_id', type: 'bigint', nullable: true, comment: '会员id' })
  memberId!: string | null;

  @Column({ name: 'third_code', type: 'varchar', length: 64, nullable: true, comment: '第三方  PRI系统代码，卓越：ZYEDU_TMS' })
  thirdCode!: string | null;

  @Column({ name: 'build_type', type: 'varchar', length: 32, nullable: true, comment: '绑定类型 PARENTID MOBILE' })
  buildType!: string | null;

  @Column({ name: 'third_member_id', type: 'varchar', length: 64, nullable: true, comment: '第三方会员ID' })
  thirdMemberId!: string | null;

  @Column({ type: 'varchar', length: 32, nullable: true, comment: '学生：CHILDREN , 枚举类：FamilyRelationEnum' })
  relation!: string | null;

  @Column({ type: 'varchar', length: 255, nullable: true, comment: '姓名' })
  name!: string | null;

  @Column({ type: 'tinyint', nullable: true, comment: '性别 0:女 1:男' })
  sex!: number | null;

  /** A calendar day as `YYYY-MM-DD` (DATE columns are read as text). */
  @Column({ name: 'brithday', type: 'date', nullable: true, comment: '生日' })
  brithday!: string | null;

  @Column({ type: 'varchar', length: 45, nullable: true, comment: '手机' })
  mobile!: string | null;

  @Column({ name: 'school_name', type: 'varchar', length: 255, nullable: true, comment: '生源学校名' })
  schoolName!: string | null;

  @Column({ name: 'grade_name', type: 'varchar', length: 255, nullable: true, comment: '年级名' })
  gradeName!: string | null;

  @Column({ name: 'created_time', type: 'datetime', nullable: true, comment: '创建时间' })
  createdTime!: Date | null;

  @Column({ type: 'tinyint', nullable: true, default: 0, comment: '删除标记' })
  deleted!: number | null;
}
