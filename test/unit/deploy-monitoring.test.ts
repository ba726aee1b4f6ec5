import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { Histogram } from 'prom-client';
import { z } from 'zod';
import { collectProcessMetrics, metricsRegistry } from '../../lib/metrics';
import { QUEUE_NAMES } from '../../lib/queue-names';
import { QUEUE_GAUGE_NAMES } from '../../workers/queue-metrics';

/**
 * deploy/prometheus and deploy/grafana against the hub: the rules load and pass their promtool tests,
 * and every series they read is one the hub exports (or a rule records).
 */

const ROOT = join(__dirname, '..', '..');
const PROMETHEUS_DIR = join(ROOT, 'deploy', 'prometheus');

const ruleSchema = z.union([
  z.object({ record: z.string(), expr: z.string() }),
  z.object({
    alert: z.string(),
    expr: z.string(),
    for: z.string().optional(),
    labels: z.object({ severity: z.enum(['critical', 'warning']) }).passthrough(),
    annotations: z.object({ summary: z.string().min(1), description: z.string().min(1), runbook: z.string().min(1) }).strict(),
  }),
]);
const rulesFile = z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(ruleSchema) })) });
const testsFile = z.object({
  tests: z.array(
    z.object({
      alert_rule_test: z.array(z.object({ alertname: z.string(), exp_alerts: z.array(z.unknown()) })).optional(),
      promql_expr_test: z.array(z.object({ expr: z.string() })).optional(),
    }),
  ),
});

interface Target { expr?: string }
interface Panel { title?: string; targets?: Target[]; panels?: Panel[] }
const dashboardSchema = z.object({
  panels: z.array(z.unknown()),
  templating: z.object({ list: z.array(z.object({ name: z.string(), query: z.unknown().optional() }).passthrough()) }),
});

const rules = rulesFile.parse(parse(readFileSync(join(PROMETHEUS_DIR, 'rules.yml'), 'utf8'))).groups.flatMap((g) => g.rules);
const alerts = rules.flatMap((r) => ('alert' in r ? [r] : []));
const records = rules.flatMap((r) => ('record' in r ? [r] : []));
const dashboard = dashboardSchema.parse(JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'jobhub.json'), 'utf8')));

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);

/**
 * The metric names a PromQL expression (or a Grafana query) reads: identifiers left once strings,
 * label matchers, ranges, grouping clauses and function calls are taken out.
 */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/label_values\(\s*([a-zA-Z_:][\w:]*)[^)]*\)/g, ' $1 ')
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names = [...bare.matchAll(/(?<![\w:$.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)].map((m) => m[1] ?? '');
  return [...new Set(names.filter((n) => !KEYWORDS.has(n.toLowerCase()) && !/^\d/.test(n)))];
}

function dashboardExprs(): string[] {
  const walk = (panels: Panel[]): string[] => panels.flatMap((p) => [...(p.targets ?? []).flatMap((t) => (t.expr ? [t.expr] : [])), ...walk(p.panels ?? [])]);
  const variables = dashboard.templating.list.flatMap((v) => {
    const query = z.union([z.string(), z.object({ query: z.string() })]).safeParse(v.query);
    if (!query.success || v.name === 'datasource') return [];
    return [typeof query.data === 'string' ? query.data : query.data.query];
  });
  return [...walk(dashboard.panels as Panel[]), ...variables];
}

/** Every series name the hub can export, with its histograms' series, the rules' records, and Prometheus's own. */
function exportedNames(): Set<string> {
  collectProcessMetrics();
  const names = new Set<string>(['up', ...QUEUE_GAUGE_NAMES, ...records.map((r) => r.record)]);
  for (const metric of metricsRegistry.getMetricsAsArray()) {
    names.add(metric.name);
    if (metric instanceof Histogram) for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

const promtool = (...args: string[]) =>
  promisify(execFile)('promtool', args, { cwd: PROMETHEUS_DIR }).catch((err: Error & { code?: string; stdout?: string; stderr?: string }) => {
    if (err.code === 'ENOENT') throw new Error('promtool is not installed: apt-get install prometheus (.ci/run does)');
    throw new Error(`promtool ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
  });

describe('deploy/prometheus and deploy/grafana', () => {
  it('the example configuration and the rules load, and every alert passes its promtool tests', async () => {
    await expect(promtool('check', 'config', 'prometheus.example.yml')).resolves.toMatchObject({ stdout: expect.stringMatching(/SUCCESS/) });
    await expect(promtool('check', 'rules', 'rules.yml')).resolves.toMatchObject({ stdout: expect.stringMatching(/SUCCESS/) });
    await expect(promtool('test', 'rules', 'rules.test.yml')).resolves.toMatchObject({ stdout: expect.stringMatching(/SUCCESS/) });
  });

  it('tests every alert both firing and not firing, and every record', () => {
    const tests = testsFile.parse(parse(readFileSync(join(PROMETHEUS_DIR, 'rules.test.yml'), 'utf8'))).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const { alert } of alerts) {
      expect({ alert, fires: cases.some((c) => c.alertname === alert && c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, quiet: cases.some((c) => c.alertname === alert && c.exp_alerts.length === 0) }).toEqual({ alert, quiet: true });
    }
    const exprs = tests.flatMap((t) => t.promql_expr_test ?? []).map((t) => t.expr);
    for (const { record } of records) expect(exprs.some((e) => metricNamesIn(e).includes(record))).toBe(true);
  });

  it('gives every queue of the hub a waiting limit', () => {
    const limits = records.find((r) => r.record === 'jobhub:queue_oldest_waiting_limit_seconds');
    const limited = [...(limits?.expr ?? '').matchAll(/"queue",\s*"([^"]+)"/g)].map((m) => m[1]);
    expect([...limited].sort()).toEqual([...QUEUE_NAMES].sort());
  });

  it('reads only series the hub exports', () => {
    const known = exportedNames();
    const read = [...alerts, ...records].map((r) => r.expr).concat(dashboardExprs());
    const unknown = [...new Set(read.flatMap(metricNamesIn))].filter((name) => !known.has(name));
    expect(unknown).toEqual([]);
    // The check sees what it should: the dashboard reads the new gauges and a histogram's buckets.
    expect(read.flatMap(metricNamesIn)).toEqual(expect.arrayContaining(['jobhub_queue_workers', 'jobhub_job_wait_seconds_bucket', 'jobhub_dependency_up', 'up']));
    expect(metricNamesIn('sum by (queue) (rate(jobhub_no_such_total{queue="sms"}[5m])) > on (queue) group_left vector(1)')).toEqual(['jobhub_no_such_total']);
  });

  it('lets the dashboard pick queues and jobs', () => {
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['queue', 'job']));
    for (const expr of dashboardExprs().filter((e) => /jobhub_jobs_|jobhub_job_/.test(e) && !e.startsWith('label_values'))) {
      expect(expr).toMatch(/queue=~"\$queue"/);
    }
  });
});
