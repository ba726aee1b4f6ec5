import type { DataSource, EntityManager } from 'typeorm';
import { HubSmsTemplate } from '../../entities/hub/hub-sms-template.entity';
import type { SmsProvider, SmsTemplate } from '../../integrations/sms/sms.client';
import { PermanentError } from '../../lib/errors';

/**
 * A `hub_sms_template` row made ready for one message: the parameters checked against every name the
 * text and the vendors' templates use, the text rendered for `sms.content`, and the template each
 * vendor approved. A vendor without an approved template (code or sign missing) cannot send it.
 */

export type SmsParams = Readonly<Record<string, string | number>>;

export interface PreparedSms {
  templateKey: string;
  /** The text as the recipient reads it. */
  content: string;
  /** Per vendor that approved the template. */
  templates: Partial<Record<SmsProvider, SmsTemplate>>;
}

const PLACEHOLDER = /\$\{(\w+)\}/g;

/** Every hub parameter the row needs, in first-use order. */
export function requiredParams(row: Pick<HubSmsTemplate, 'content' | 'aliyunParams' | 'tencentParams'>): string[] {
  const names = [...row.content.matchAll(PLACEHOLDER)].map((m) => m[1] ?? '');
  names.push(...Object.values(row.aliyunParams ?? {}), ...(row.tencentParams ?? []));
  return [...new Set(names)];
}

/** Checks and renders; throws PermanentError('MISSING_PARAMETER') naming the first parameter not given. */
export function prepareSmsTemplate(row: HubSmsTemplate, params: SmsParams): PreparedSms {
  const value = (name: string): string => {
    const v = Object.hasOwn(params, name) ? params[name] : undefined;
    if (v === undefined) throw new PermanentError('MISSING_PARAMETER', `template ${row.templateKey} needs parameter ${name}`);
    return String(v);
  };
  for (const name of requiredParams(row)) value(name);
  const content = row.content.replace(PLACEHOLDER, (_all, name: string) => value(name));
  const templates: Partial<Record<SmsProvider, SmsTemplate>> = {};
  if (row.aliyunTemplateCode && row.aliyunSignName) {
    const aliyun: Record<string, string> = {};
    for (const [vendorName, hubName] of Object.entries(row.aliyunParams ?? {})) aliyun[vendorName] = value(hubName);
    templates.aliyun = { id: row.aliyunTemplateCode, sign: row.aliyunSignName, params: aliyun };
  }
  if (row.tencentTemplateId && row.tencentSignName) {
    // Keyed by position ({1}, {2}, …): integer keys keep ascending order, which is Tencent's order.
    const tencent: Record<string, string> = {};
    (row.tencentParams ?? []).forEach((hubName, i) => {
      tencent[String(i + 1)] = value(hubName);
    });
    templates.tencent = { id: row.tencentTemplateId, sign: row.tencentSignName, params: tencent };
  }
  return { templateKey: row.templateKey, content, templates };
}

/** Every SMS reads its template and templates change rarely: one read per key and half minute. */
const TEMPLATE_CACHE_MS = 30_000;
const templateCache = new WeakMap<DataSource | EntityManager, Map<string, { row: HubSmsTemplate; readAt: number }>>();

/** The enabled template under `key`; PermanentError('UNKNOWN_TEMPLATE') when there is none (never cached). */
export async function loadSmsTemplate(db: DataSource | EntityManager, key: string): Promise<HubSmsTemplate> {
  let cache = templateCache.get(db);
  if (!cache) templateCache.set(db, (cache = new Map()));
  const hit = cache.get(key);
  if (hit && Date.now() - hit.readAt < TEMPLATE_CACHE_MS) return hit.row;
  const row = await db.getRepository(HubSmsTemplate).findOne({ where: { templateKey: key } });
  if (!row || row.enabled !== 1) {
    cache.delete(key);
    throw new PermanentError('UNKNOWN_TEMPLATE', `no enabled SMS template ${JSON.stringify(key)} in hub_sms_template`);
  }
  cache.set(key, { row, readAt: Date.now() });
  return row;
}

/** Loads, checks and renders the template a message names. */
export async function prepareSms(db: DataSource | EntityManager, key: string, params: SmsParams): Promise<PreparedSms> {
  return prepareSmsTemplate(await loadSmsTemplate(db, key), params);
}
