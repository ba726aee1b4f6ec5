import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One SMS template under a key callers use (`sms-send` takes the key and named parameters), as each
 * vendor approved it. `content` renders `sms.content` with `${name}` placeholders.
 */
@Entity('hub_sms_template')
@Index('uk_hub_sms_template_key', ['templateKey'], { unique: true })
export class HubSmsTemplate {
  @PrimaryGeneratedColumn({ type: 'bigint', unsigned: true })
  id!: string;

  @Column({ name: 'template_key', type: 'varchar', length: 64 })
  templateKey!: string;

  /** The text as the recipient reads it, with `${name}` for each parameter. */
  @Column({ type: 'varchar', length: 1000 })
  content!: string;

  /** `SMS_xxx`; NULL when the template is not approved at Aliyun. */
  @Column({ name: 'aliyun_template_code', type: 'varchar', length: 64, nullable: true })
  aliyunTemplateCode!: string | null;

  @Column({ name: 'aliyun_sign_name', type: 'varchar', length: 64, nullable: true })
  aliyunSignName!: string | null;

  /** Aliyun's variable name → the hub parameter it takes (`{"code":"code","time":"minutes"}`). */
  @Column({ name: 'aliyun_params', type: 'json', nullable: true })
  aliyunParams!: Record<string, string> | null;

  /** NULL when the template is not approved at Tencent. */
  @Column({ name: 'tencent_template_id', type: 'varchar', length: 64, nullable: true })
  tencentTemplateId!: string | null;

  @Column({ name: 'tencent_sign_name', type: 'varchar', length: 64, nullable: true })
  tencentSignName!: string | null;

  /** Hub parameter names in the order of Tencent's `{1}`, `{2}`, … */
  @Column({ name: 'tencent_params', type: 'json', nullable: true })
  tencentParams!: string[] | null;

  @Column({ type: 'tinyint', default: 1 })
  enabled!: number;

  @Column({ name: 'created_time', type: 'datetime', precision: 3 })
  createdTime!: Date;

  @Column({ name: 'updated_time', type: 'datetime', precision: 3 })
  updatedTime!: Date;
}
