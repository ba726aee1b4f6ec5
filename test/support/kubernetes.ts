import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import { envSchema } from '../../lib/config';

/**
 * The manifests of deploy/kubernetes, read with zod schemas of the fields the checks rely on (the
 * rest is let through): a manifest that lacks one fails its parse, naming the file and the field.
 */

export const MANIFEST_DIR = resolve(__dirname, '../../deploy/kubernetes');

const metadata = z.object({ name: z.string().min(1), labels: z.record(z.string(), z.string()).optional() });

const probe = z.object({ httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]) }) });

const container = z.object({
  name: z.string(),
  image: z.string(),
  // No `command`: it would replace the image's entry point, and with it tini (SIGTERM to node, zombies reaped).
  command: z.never({ message: 'leave the image\'s entry point: name the process in args' }).optional(),
  args: z.tuple([z.string()]),
  env: z.array(z.object({ name: z.string(), value: z.string().optional() })).optional(),
  envFrom: z.array(z.object({ configMapRef: z.object({ name: z.string() }).optional() })).optional(),
  ports: z.array(z.object({ name: z.string().optional(), containerPort: z.number() })).optional(),
  readinessProbe: probe.optional(),
  livenessProbe: probe.optional(),
  lifecycle: z.object({ preStop: z.object({ exec: z.object({ command: z.array(z.string()) }) }) }).optional(),
  resources: z.object({
    requests: z.object({ cpu: z.union([z.string(), z.number()]), memory: z.string() }),
    limits: z.object({ memory: z.string() }),
  }),
  securityContext: z.object({
    allowPrivilegeEscalation: z.literal(false),
    readOnlyRootFilesystem: z.boolean(),
    capabilities: z.object({ drop: z.array(z.string()) }),
  }),
  volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() })).optional(),
});
export type Container = z.infer<typeof container>;

const podSpec = z.object({
  terminationGracePeriodSeconds: z.number().optional(),
  securityContext: z.object({ runAsNonRoot: z.literal(true), runAsUser: z.number().min(1) }),
  containers: z.array(container).min(1),
  volumes: z.array(z.object({ name: z.string(), secret: z.object({ secretName: z.string() }).optional() })).optional(),
});
export type PodSpec = z.infer<typeof podSpec>;

const deployment = z.object({
  kind: z.literal('Deployment'),
  metadata,
  spec: z.object({
    replicas: z.number().optional(),
    selector: z.object({ matchLabels: z.record(z.string(), z.string()) }),
    template: z.object({ metadata: z.object({ labels: z.record(z.string(), z.string()), annotations: z.record(z.string(), z.string()).optional() }), spec: podSpec }),
  }),
});
export type Deployment = z.infer<typeof deployment>;

const job = z.object({ kind: z.literal('Job'), metadata, spec: z.object({ template: z.object({ spec: podSpec }) }) });

const configMap = z.object({ kind: z.literal('ConfigMap'), metadata, data: z.record(z.string(), z.string()) });

const secret = z.object({
  kind: z.literal('Secret'),
  metadata,
  stringData: z.record(z.string(), z.string()).optional(),
  data: z.record(z.string(), z.string()).optional(),
});

const service = z.object({
  kind: z.literal('Service'),
  metadata,
  spec: z.object({
    selector: z.record(z.string(), z.string()),
    ports: z.array(z.object({ name: z.string(), port: z.number(), targetPort: z.union([z.string(), z.number()]) })).min(1),
  }),
});
export type Service = z.infer<typeof service>;

const pdb = z.object({
  kind: z.literal('PodDisruptionBudget'),
  metadata,
  spec: z.object({ selector: z.object({ matchLabels: z.record(z.string(), z.string()) }) }),
});

const scaledObject = z.object({
  kind: z.literal('ScaledObject'),
  metadata,
  spec: z.object({
    scaleTargetRef: z.object({ name: z.string() }),
    minReplicaCount: z.number(),
    maxReplicaCount: z.number(),
    triggers: z.array(z.object({ type: z.string(), metadata: z.object({ query: z.string(), threshold: z.string() }) })).min(1),
  }),
});
export type ScaledObject = z.infer<typeof scaledObject>;

const kustomization = z.object({ kind: z.literal('Kustomization'), resources: z.array(z.string()) });

/** Every kind deploy/kubernetes holds; another kind is refused until it is read here too. */
const manifest = z.discriminatedUnion('kind', [deployment, job, configMap, secret, service, pdb, scaledObject, kustomization]);
type Manifest = z.infer<typeof manifest>;

export interface Manifests {
  readonly files: readonly string[];
  readonly kustomization: z.infer<typeof kustomization>;
  readonly configMaps: readonly z.infer<typeof configMap>[];
  readonly secrets: readonly z.infer<typeof secret>[];
  readonly deployments: readonly Deployment[];
  readonly jobs: readonly z.infer<typeof job>[];
  readonly services: readonly Service[];
  readonly pdbs: readonly z.infer<typeof pdb>[];
  readonly scaledObjects: readonly ScaledObject[];
}

const ofKind = <K extends Manifest['kind']>(all: readonly Manifest[], kind: K): Extract<Manifest, { kind: K }>[] =>
  all.filter((m): m is Extract<Manifest, { kind: K }> => m.kind === kind);

/** Every document of every .yaml file of the directory, parsed strictly (a YAML warning is an error). */
export function loadManifests(dir: string = MANIFEST_DIR): Manifests {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml')).sort();
  const all: Manifest[] = [];
  for (const file of files) {
    for (const [index, doc] of parseAllDocuments(readFileSync(join(dir, file), 'utf8'), { prettyErrors: true }).entries()) {
      const problems = [...doc.errors, ...doc.warnings].map((e) => e.message);
      if (problems.length > 0) throw new Error(`${file} document ${index + 1}: ${problems.join('; ')}`);
      const parsed = manifest.safeParse(doc.toJS());
      if (!parsed.success) throw new Error(`${file} document ${index + 1}: ${z.prettifyError(parsed.error)}`);
      all.push(parsed.data);
    }
  }
  const [kustomizationFile, ...more] = ofKind(all, 'Kustomization');
  if (!kustomizationFile || more.length > 0) throw new Error('deploy/kubernetes needs one kustomization.yaml');
  return {
    files,
    kustomization: kustomizationFile,
    configMaps: ofKind(all, 'ConfigMap'),
    secrets: ofKind(all, 'Secret'),
    deployments: ofKind(all, 'Deployment'),
    jobs: ofKind(all, 'Job'),
    services: ofKind(all, 'Service'),
    pdbs: ofKind(all, 'PodDisruptionBudget'),
    scaledObjects: ofKind(all, 'ScaledObject'),
  };
}

/** The process a container runs: the name its args give the image's entry point (bin/jobhub-process). */
export type HubProcess = 'web' | 'worker' | 'clock' | 'release';
const HUB_PROCESSES: readonly HubProcess[] = ['web', 'worker', 'clock', 'release'];

export function processOf(c: Container): HubProcess {
  const [name] = c.args;
  const proc = HUB_PROCESSES.find((p) => p === name);
  if (proc === undefined) throw new Error(`container ${c.name}: args ${JSON.stringify(c.args)} name none of ${HUB_PROCESSES.join(', ')}`);
  return proc;
}

/** The process names the image's entry point knows, read from bin/jobhub-process. */
export function entryPointProcesses(): string[] {
  const text = readFileSync(resolve(__dirname, '../../bin/jobhub-process'), 'utf8');
  const entries = /const ENTRIES = \{([\s\S]*?)\n\};/.exec(text)?.[1] ?? '';
  return [...entries.matchAll(/^\s*(\w+): '/gm)].map((m) => m[1] as string);
}

/**
 * The environment a container's process sees, as Kubernetes builds it: the ConfigMaps of envFrom,
 * then env (which wins). A ConfigMap that does not exist here is an error, not an empty map.
 */
export function containerEnv(c: Container, m: Manifests): Record<string, string> {
  const env: Record<string, string> = {};
  for (const source of c.envFrom ?? []) {
    if (!source.configMapRef) continue;
    const map = m.configMaps.find((cm) => cm.metadata.name === source.configMapRef?.name);
    if (!map) throw new Error(`container ${c.name}: no ConfigMap ${source.configMapRef.name}`);
    Object.assign(env, map.data);
  }
  for (const variable of c.env ?? []) {
    if (variable.value === undefined) throw new Error(`container ${c.name}: ${variable.name} has no value (valueFrom is not read here)`);
    env[variable.name] = variable.value;
  }
  return env;
}

/** A variable's value for a process: what the environment gives, or the schema's default. */
export function effectiveValue(env: Readonly<Record<string, string>>, name: 'HUB_PORT' | 'HUB_METRICS_PORT' | 'HUB_SHUTDOWN_GRACE_MS'): number {
  return envSchema.shape[name].parse(env[name]);
}

/** A probe's port as a number: named ports resolve through the container's ports. */
export function probePort(c: Container, port: string | number): number | undefined {
  if (typeof port === 'number') return port;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** Whether every label of `selector` is on `labels`. */
export const selects = (selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean =>
  Object.entries(selector).every(([key, value]) => labels[key] === value);
