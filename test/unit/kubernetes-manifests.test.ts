import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { envVariables } from '../../cli/docs';
import { registry } from '../../jobs';
import { envSchema } from '../../lib/config';
import { SECRET_VARIABLES } from '../../lib/config-secrets';
import { serveMetrics, type MetricsServer } from '../../lib/metrics-server';
import { QUEUE_NAMES } from '../../lib/queue-names';
import { buildApp } from '../../server/app';
import { openTestHub, type TestHub } from '../support/hub';
import {
  containerEnv,
  effectiveValue,
  loadManifests,
  probePort,
  processOf,
  entryPointProcesses,
  selects,
  type Container,
  type Deployment,
  type PodSpec,
} from '../support/kubernetes';

/**
 * deploy/kubernetes against the code: the variables it sets exist, the probes reach routes the
 * processes serve on the ports they listen on, pods outlive the shutdown, and the worker
 * Deployments and their ScaledObjects cover every queue once.
 */

const ROOT = resolve(__dirname, '../..');
const m = loadManifests();
const SECRET_EXAMPLE = 'secret.example.yaml';
/** Where the Secret's keys are files; the *_FILE variables and key-file paths point into it. */
const SECRET_MOUNT = '/run/secrets/jobhub';
const OLDEST_WAITING = 'jobhub_queue_oldest_waiting_seconds';

const pods: { name: string; spec: PodSpec }[] = [
  ...m.deployments.map((d) => ({ name: `Deployment ${d.metadata.name}`, spec: d.spec.template.spec })),
  ...m.jobs.map((j) => ({ name: `Job ${j.metadata.name}`, spec: j.spec.template.spec })),
];
const containers: { pod: string; spec: PodSpec; container: Container }[] = pods.flatMap((p) => p.spec.containers.map((container) => ({ pod: p.name, spec: p.spec, container })));
const deploymentsOf = (proc: string): Deployment[] => m.deployments.filter((d) => d.spec.template.spec.containers.some((c) => processOf(c) === proc));
const workers = deploymentsOf('worker');
const queuesOf = (d: Deployment): string[] => (d.spec.template.spec.containers[0]?.env ?? []).find((e) => e.name === 'HUB_QUEUES')?.value?.split(',').map((q) => q.trim()) ?? [];

/** workers/shutdown.ts exits on its own this long after HUB_SHUTDOWN_GRACE_MS; read from the code so the two cannot drift. */
function shutdownMarginMs(): number {
  const match = /setTimeout\([\s\S]*?graceMs \+ ([\d_]+)\)/.exec(readFileSync(resolve(ROOT, 'workers/shutdown.ts'), 'utf8'));
  if (!match?.[1]) throw new Error('workers/shutdown.ts no longer reads `graceMs + <margin>`: update this test');
  return Number(match[1].replace(/_/g, ''));
}

/** How long a preStop hook keeps the container before SIGTERM: `node -e "setTimeout(() => {}, <ms>)"`. */
function preStopMs(c: Container): number {
  const command = c.lifecycle?.preStop.exec.command;
  if (!command) return 0;
  const match = /setTimeout\(\(\) => \{\}, (\d+)\)$/.exec(command.join(' '));
  if (!match?.[1]) throw new Error(`${c.name}: preStop ${command.join(' ')} is not a recognised wait`);
  return Number(match[1]);
}

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  it('kustomization.yaml lists every manifest but the Secret template, which must never be applied as is', () => {
    const expected = m.files.filter((f) => f !== 'kustomization.yaml' && f !== SECRET_EXAMPLE);
    expect([...m.kustomization.resources].sort()).toEqual(expected);
    expect(m.files).toContain(SECRET_EXAMPLE);
  });

  it('sets only variables of the configuration schema, credentials only as *_FILE', () => {
    const known = new Set(envVariables());
    const fileVariables = new Set(SECRET_VARIABLES.map((name) => `${name}_FILE`));
    const set = [...m.configMaps.flatMap((cm) => Object.entries(cm.data)), ...containers.flatMap(({ container }) => (container.env ?? []).map((e): [string, string] => [e.name, e.value ?? '']))];
    expect(set.length).toBeGreaterThan(20);
    for (const [name, value] of set) {
      expect({ name, known: known.has(name) || fileVariables.has(name) }).toEqual({ name, known: true });
      if (fileVariables.has(name)) continue;
      // A URL may name the server, never the password: that comes from MYSQL_PASSWORD_FILE or REDIS_PASSWORD_FILE.
      if (name === 'MYSQL_URL' || name === 'REDIS_URL') expect({ name, password: new URL(value).password }).toEqual({ name, password: '' });
      else expect({ name, credential: (SECRET_VARIABLES as readonly string[]).includes(name) }).toEqual({ name, credential: false });
      // Paths into the Secret are checked against its keys below; every other value must parse as the hub parses it.
      if (value.startsWith(`${SECRET_MOUNT}/`)) continue;
      const field = (envSchema.shape as Record<string, { safeParse(v: unknown): { success: boolean } }>)[name];
      expect({ name, value, valid: field?.safeParse(value).success }).toEqual({ name, value, valid: true });
    }
  });

  it('every file a variable names is a key of the Secret, mounted where the variable says', () => {
    const [secret, ...others] = m.secrets;
    expect(others).toHaveLength(0);
    const keys = new Set(Object.keys({ ...secret?.stringData, ...secret?.data }));
    for (const { pod, spec, container } of containers) {
      const paths = Object.values(containerEnv(container, m)).flatMap((v) => v.split(',').map((p) => p.trim())).filter((p) => p.startsWith(`${SECRET_MOUNT}/`));
      expect({ pod, paths: paths.length > 0 }).toEqual({ pod, paths: true });
      for (const path of paths) expect({ path, inSecret: keys.has(path.slice(SECRET_MOUNT.length + 1)) }).toEqual({ path, inSecret: true });
      const mount = container.volumeMounts?.find((v) => v.mountPath === SECRET_MOUNT);
      const volume = spec.volumes?.find((v) => v.name === mount?.name);
      expect({ pod, secret: volume?.secret?.secretName }).toEqual({ pod, secret: secret?.metadata.name });
    }
  });

  it('each container runs a hub process through the image\'s entry point, as a non-root user on a read-only root, with requests and limits', () => {
    const known = entryPointProcesses();
    expect(known).toEqual(expect.arrayContaining(['web', 'worker', 'clock', 'release']));
    for (const { pod, spec, container } of containers) {
      expect({ pod, process: known.includes(processOf(container)) }).toEqual({ pod, process: true });
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      expect({ pod, readOnlyRoot: container.securityContext.readOnlyRootFilesystem }).toEqual({ pod, readOnlyRoot: true });
      expect(container.securityContext.capabilities.drop).toContain('ALL');
    }
  });

  it('probes /readyz and /healthz, and has /metrics scraped, on the port the process listens on (HUB_PORT for web, HUB_METRICS_PORT otherwise)', () => {
    expect(m.deployments.length).toBeGreaterThanOrEqual(5);
    for (const d of m.deployments) {
      const [c, ...sidecars] = d.spec.template.spec.containers;
      expect(sidecars).toHaveLength(0);
      if (!c) continue;
      const env = containerEnv(c, m);
      const listens = processOf(c) === 'web' ? effectiveValue(env, 'HUB_PORT') : effectiveValue(env, 'HUB_METRICS_PORT');
      expect(listens).toBeGreaterThan(0);
      const scrape = d.spec.template.metadata.annotations ?? {};
      expect({ deployment: d.metadata.name, port: Number(scrape['prometheus.io/port']), path: scrape['prometheus.io/path'] }).toEqual({ deployment: d.metadata.name, port: listens, path: '/metrics' });
      expect({ container: c.name, readiness: c.readinessProbe?.httpGet.path, liveness: c.livenessProbe?.httpGet.path }).toEqual({ container: c.name, readiness: '/readyz', liveness: '/healthz' });
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        expect({ container: c.name, port: probe && probePort(c, probe.httpGet.port) }).toEqual({ container: c.name, port: listens });
      }
    }
  });

  it('gives every pod longer than its process takes to shut down (preStop, HUB_SHUTDOWN_GRACE_MS and the exit margin)', () => {
    const margin = shutdownMarginMs();
    expect(margin).toBeGreaterThan(0);
    for (const d of m.deployments) {
      const spec = d.spec.template.spec;
      for (const c of spec.containers) {
        const needed = preStopMs(c) + effectiveValue(containerEnv(c, m), 'HUB_SHUTDOWN_GRACE_MS') + margin;
        expect({ deployment: d.metadata.name, neededMs: needed, hasMs: (spec.terminationGracePeriodSeconds ?? 30) * 1_000 > needed }).toEqual({
          deployment: d.metadata.name,
          neededMs: needed,
          hasMs: true,
        });
      }
    }
  });

  it('runs one web Deployment of 2+ replicas and one clock', () => {
    const [web, ...moreWeb] = deploymentsOf('web');
    expect(moreWeb).toHaveLength(0);
    expect(web?.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deploymentsOf('clock')).toHaveLength(1);
  });

  it('gives each worker Deployment real queues, and every queue to exactly one of them', () => {
    expect(workers.length).toBeGreaterThan(1);
    // In the ConfigMap HUB_QUEUES would reach every worker alike.
    for (const cm of m.configMaps) expect(Object.keys(cm.data)).not.toContain('HUB_QUEUES');
    const owners = new Map<string, string[]>();
    for (const d of workers) {
      const queues = queuesOf(d);
      expect({ deployment: d.metadata.name, queues: queues.length > 0 }).toEqual({ deployment: d.metadata.name, queues: true });
      expect(envSchema.shape.HUB_QUEUES.safeParse(queues.join(',')).success).toBe(true);
      for (const q of queues) owners.set(q, [...(owners.get(q) ?? []), d.metadata.name]);
    }
    for (const queue of QUEUE_NAMES) expect({ queue, workedBy: owners.get(queue)?.length ?? 0 }).toEqual({ queue, workedBy: 1 });
    for (const queue of owners.keys()) expect(QUEUE_NAMES as readonly string[]).toContain(queue);
  });

  it('scales each worker Deployment with one ScaledObject, on the oldest wait of exactly its queues, never below 1', () => {
    expect(readFileSync(resolve(ROOT, 'workers/queue-metrics.ts'), 'utf8')).toContain(`'${OLDEST_WAITING}'`);
    expect(m.scaledObjects.map((s) => s.spec.scaleTargetRef.name).sort()).toEqual(workers.map((d) => d.metadata.name).sort());
    for (const scaled of m.scaledObjects) {
      const target = workers.find((d) => d.metadata.name === scaled.spec.scaleTargetRef.name);
      expect(target).toBeDefined();
      // Replicas belong to KEDA's HPA: a fixed count here would be reset on every apply.
      expect(target?.spec.replicas).toBeUndefined();
      expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(scaled.spec.maxReplicaCount).toBeGreaterThanOrEqual(scaled.spec.minReplicaCount);
      for (const trigger of scaled.spec.triggers) {
        expect(trigger.type).toBe('prometheus');
        const match = new RegExp(`^max\\(${OLDEST_WAITING}\\{queue=~"([a-z|-]+)"\\}\\)$`).exec(trigger.metadata.query);
        expect({ query: trigger.metadata.query, form: match !== null }).toEqual({ query: trigger.metadata.query, form: true });
        expect(match?.[1]?.split('|').sort()).toEqual(target && queuesOf(target).sort());
        expect(Number(trigger.metadata.threshold)).toBeGreaterThan(0);
      }
    }
  });

  it('guards web and every worker Deployment with a PodDisruptionBudget, and points every Service at pods that have its port', () => {
    for (const d of [...deploymentsOf('web'), ...workers]) {
      const labels = d.spec.template.metadata.labels;
      expect({ deployment: d.metadata.name, budgets: m.pdbs.filter((p) => selects(p.spec.selector.matchLabels, labels)).length }).toEqual({ deployment: d.metadata.name, budgets: 1 });
    }
    for (const service of m.services) {
      const backing = m.deployments.filter((d) => selects(service.spec.selector, d.spec.template.metadata.labels));
      expect({ service: service.metadata.name, backing: backing.length > 0 }).toEqual({ service: service.metadata.name, backing: true });
      for (const d of backing) {
        for (const port of service.spec.ports) {
          const has = d.spec.template.spec.containers.some((c) => probePort(c, port.targetPort) !== undefined && c.ports?.some((p) => p.containerPort === probePort(c, port.targetPort)));
          expect({ service: service.metadata.name, deployment: d.metadata.name, port: port.targetPort, has }).toEqual({ service: service.metadata.name, deployment: d.metadata.name, port: port.targetPort, has: true });
        }
      }
    }
  });
});

/** The probes' and the scrape's paths answered by the real servers: the web app on HUB_PORT, the metrics server of workers and clock. */
describe('the routes the probes and Prometheus call', () => {
  const paths = (proc: 'web' | 'metrics'): string[] => [
    ...new Set(
      m.deployments
        .flatMap((d) => d.spec.template.spec.containers.map((c) => ({ c, scrape: d.spec.template.metadata.annotations?.['prometheus.io/path'] })))
        .filter(({ c }) => (processOf(c) === 'web') === (proc === 'web'))
        .flatMap(({ c, scrape }) => [c.readinessProbe?.httpGet.path, c.livenessProbe?.httpGet.path, scrape])
        .filter((p): p is string => p !== undefined),
    ),
  ];
  let hub: TestHub;
  let app: FastifyInstance;
  let metrics: MetricsServer;

  beforeAll(async () => {
    hub = await openTestHub(__filename);
    app = await buildApp({ config: hub.config, log: hub.log, db: hub.db, redis: hub.redis, queues: hub.queues, registry });
    metrics = await serveMetrics(0, hub.log, []);
  });

  afterAll(async () => {
    await metrics.close();
    await app.close();
    await hub.close();
  });

  it('the web serves every path its probes and the scrape call', async () => {
    expect(paths('web').length).toBeGreaterThan(0);
    for (const url of paths('web')) {
      const response = await app.inject({ method: 'GET', url });
      expect({ url, status: response.statusCode }).toEqual({ url, status: 200 });
    }
  });

  it('the metrics server of workers and clock serves every path their probes and the scrape call', async () => {
    expect(paths('metrics').length).toBeGreaterThan(0);
    for (const url of paths('metrics')) {
      const response = await fetch(`http://127.0.0.1:${metrics.port}${url}`);
      expect({ url, status: response.status }).toEqual({ url, status: 200 });
    }
  });
});
