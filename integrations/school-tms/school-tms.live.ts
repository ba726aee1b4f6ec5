import { type AxiosInstance, isAxiosError } from 'axios';
import { z } from 'zod';
import { PermanentError, RetryableError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import type { FeedPage, FeedPosition, ParentKey, School, SchoolTmsClient, Student } from './school-tms.client';
import { networkError, toHubError } from './school-tms.errors';
import { textHttpClient } from '../text-http';

export interface LiveSchoolTmsOptions {
  /** The system's origin, or the emulator's loopback address. */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  /** Per HTTP request. */
  timeoutMs: number;
  now?: () => Date;
  log?: Logger;
}

/** Ids travel as strings (numbers accepted while they are exact). */
const id = z.union([z.string().min(1).max(64), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]).transform(String);
const text = z.string().nullish().transform((v) => v ?? null);
const instant = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'expected an ISO 8601 time').transform((v) => new Date(v).toISOString());

const schoolWire = z.object({
  id,
  name: z.string(),
  province: text,
  city: text,
  address: text,
  status: z.number().int(),
  modify_id: id.nullish().transform((v) => v ?? null),
  modify_name: text,
  updated_at: instant,
  deleted: z.boolean().default(false),
});

const studentWire = z.object({
  id,
  name: z.string(),
  sex: z.number().int().min(0).max(1).nullish().transform((v) => v ?? null),
  birthday: z.string().regex(/^\d{4}-\d{2}-\d{2}$/).nullish().transform((v) => v ?? null),
  school_name: text,
  grade_name: text,
  guardians: z.array(z.object({ id, name: text, mobile: text, relation: text })).default([]),
  updated_at: instant,
  deleted: z.boolean().default(false),
});

const nextWire = z.object({ updated_after: instant, after_id: id }).nullable();
const tokenWire = z.object({ access_token: z.string().min(1), expires_in: z.number().positive() });

function toSchool(w: z.output<typeof schoolWire>): School {
  return { id: w.id, name: w.name, province: w.province, city: w.city, address: w.address, status: w.status, modifyId: w.modify_id, modifyName: w.modify_name, updatedAt: w.updated_at, deleted: w.deleted };
}

function toStudent(w: z.output<typeof studentWire>): Student {
  return {
    id: w.id, name: w.name, sex: w.sex, birthday: w.birthday, schoolName: w.school_name, gradeName: w.grade_name,
    guardians: w.guardians.map((g) => ({ id: g.id, name: g.name, mobile: g.mobile, relation: g.relation })),
    updatedAt: w.updated_at, deleted: w.deleted,
  };
}

interface CachedToken {
  token: string;
  /** Epoch ms after which the token is refreshed before use. */
  refreshAt: number;
}

interface Answer {
  status: number;
  body: string;
  retryAfter: string | undefined;
}

/**
 * The live client. Its OAuth token is kept in this process's memory: client-credential grants are
 * independent of one another (a new token does not revoke the old), so workers need not share one,
 * and a read that costs a Redis round trip per page would buy nothing. Concurrent callers share one
 * grant in flight; a 401 drops the token (if still the cached one) and the call is made once more.
 */
export class LiveSchoolTmsClient implements SchoolTmsClient {
  private readonly http: AxiosInstance;
  private readonly now: () => Date;
  private cached: CachedToken | null = null;
  private granting: Promise<string> | null = null;

  constructor(private readonly options: LiveSchoolTmsOptions) {
    this.now = options.now ?? (() => new Date());
    this.http = textHttpClient(options);
  }

  async schools(from: FeedPosition, limit: number): Promise<FeedPage<School>> {
    const page = await this.feed('/api/schools', from, limit, schoolWire);
    return { items: page.items.map(toSchool), next: page.next };
  }

  async students(from: FeedPosition, limit: number): Promise<FeedPage<Student>> {
    const page = await this.feed('/api/students', from, limit, studentWire);
    return { items: page.items.map(toStudent), next: page.next };
  }

  async studentsOfParent(parent: ParentKey): Promise<Student[]> {
    const params: Record<string, string> = 'mobile' in parent ? { parent_mobile: parent.mobile } : { parent_id: parent.parentId };
    const body = await this.get('/api/students', params);
    return this.parse('/api/students', body, z.object({ items: z.array(studentWire) })).items.map(toStudent);
  }

  private async feed<S extends z.ZodType>(path: string, from: FeedPosition, limit: number, item: S): Promise<{ items: z.output<S>[]; next: FeedPosition | null }> {
    const params: Record<string, string> = { updated_after: from.updatedAfter, limit: String(limit) };
    if (from.afterId !== undefined) params.after_id = from.afterId;
    const page = this.parse(path, await this.get(path, params), z.object({ items: z.array(item), next: nextWire }));
    return { items: page.items, next: page.next ? { updatedAfter: page.next.updated_after, afterId: page.next.after_id } : null };
  }

  private parse<S extends z.ZodType>(path: string, body: string, schema: S): z.output<S> {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new RetryableError(`ZYEDU_TMS GET ${path}: answer is not JSON`);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new PermanentError('SCHOOL_TMS_BAD_RESPONSE', `ZYEDU_TMS GET ${path}: unexpected answer (${parsed.error.issues[0]?.path.join('.') ?? '?'})`);
    return parsed.data;
  }

  /** A GET with the token; a 401 drops that token and the call is made once more with a new one. */
  private async get(path: string, params: Record<string, string>): Promise<string> {
    const token = await this.token();
    let answer = await this.request('get', path, params, token);
    if (answer.status === 401) {
      if (this.cached?.token === token) this.cached = null;
      this.options.log?.info({ path }, 'ZYEDU_TMS rejected the access token; refreshing once');
      answer = await this.request('get', path, params, await this.token());
    }
    if (answer.status < 200 || answer.status >= 300) throw toHubError(`ZYEDU_TMS GET ${path}`, answer.status, answer.body, answer.retryAfter, this.now());
    return answer.body;
  }

  private async token(): Promise<string> {
    if (this.cached && this.cached.refreshAt > this.now().getTime()) return this.cached.token;
    this.granting ??= this.grant().finally(() => {
      this.granting = null;
    });
    return this.granting;
  }

  private async grant(): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: this.options.clientId, client_secret: this.options.clientSecret });
    const answer = await this.request('post', '/oauth/token', form.toString(), undefined);
    if (answer.status === 400 || answer.status === 401) {
      throw new PermanentError('SCHOOL_TMS_BAD_CLIENT', `ZYEDU_TMS POST /oauth/token: HTTP ${answer.status} (check SCHOOL_TMS_CLIENT_ID/_SECRET)`);
    }
    if (answer.status !== 200) throw toHubError('ZYEDU_TMS POST /oauth/token', answer.status, answer.body, answer.retryAfter, this.now());
    const t = this.parse('/oauth/token', answer.body, tokenWire);
    const lifeMs = t.expires_in * 1_000;
    // Refreshed a minute early (at most half its life), so a page never starts with a token about to lapse.
    this.cached = { token: t.access_token, refreshAt: this.now().getTime() + lifeMs - Math.min(60_000, lifeMs / 2) };
    return t.access_token;
  }

  /** The one HTTP seam. The token is never in a URL or in an error's cause. */
  private async request(method: 'get' | 'post', path: string, paramsOrForm: Record<string, string> | string, token: string | undefined): Promise<Answer> {
    try {
      const res =
        method === 'get'
          ? await this.http.get<string>(path, { params: paramsOrForm, headers: token ? { Authorization: `Bearer ${token}` } : {} })
          : await this.http.post<string>(path, paramsOrForm, { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      const retryAfter = res.headers['retry-after'];
      return { status: res.status, body: typeof res.data === 'string' ? res.data : '', retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined };
    } catch (err) {
      if (!isAxiosError(err)) throw err;
      throw networkError(`ZYEDU_TMS ${method.toUpperCase()} ${path}`, err.code ?? 'network error');
    }
  }
}
