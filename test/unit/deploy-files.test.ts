import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { envVariables } from '../../cli/docs';
import { projectRoot } from '../../lib/paths';
import { copySources, dockerfileStages, IMAGE_RUNTIME_PATHS, PROCESS_ENTRY, PRODUCTION_INSTALL } from '../support/image';

/**
 * The Dockerfile, .dockerignore and compose.yaml against what the production-install test runs and
 * what the configuration knows: an image that drifts from the tested install fails here.
 */

const root = projectRoot();
const procfile = readFileSync(join(root, 'Procfile'), 'utf8');

describe('the Dockerfile', () => {
  const stages = dockerfileStages();
  const runtime = stages.at(-1);
  const build = stages.find((s) => s.name === 'build');

  it('builds in one stage and runs from a last stage on the same pinned Node image', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime']);
    for (const stage of stages) {
      expect(stage.instructions[0]?.args).toMatch(/^node:20\.19(\.\d+)?-bookworm-slim(@sha256:[0-9a-f]{64})? AS /);
    }
    expect(build?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args)).toEqual(['npm ci --no-audit --no-fund', 'npm run build']);
  });

  it('copies into its runtime stage exactly the paths the production-install test copies, dist/ from the build', () => {
    const copies = runtime?.instructions.filter((i) => i.keyword === 'COPY').map((i) => copySources(i.args)) ?? [];
    expect(copies.flatMap((c) => c.sources).sort()).toEqual([...IMAGE_RUNTIME_PATHS].sort());
    expect(copies.filter((c) => c.from === 'build').flatMap((c) => c.sources)).toEqual(['dist']);
    for (const path of IMAGE_RUNTIME_PATHS) expect(existsSync(join(root, path))).toBe(true);
  });

  it('installs the production dependencies as the test does, and runs as node under tini, web by default', () => {
    const runs = runtime?.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args) ?? [];
    expect(runs.filter((r) => r.startsWith('npm '))).toEqual([`${PRODUCTION_INSTALL.join(' ')} && npm cache clean --force`]);
    const last = (keyword: string): string | undefined => runtime?.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
    expect(last('USER')).toBe('node');
    expect(JSON.parse(last('ENTRYPOINT') ?? 'null')).toEqual(['/usr/bin/tini', '--', `/app/${PROCESS_ENTRY}`]);
    expect(JSON.parse(last('CMD') ?? 'null')).toEqual(['web']);
    expect(last('HEALTHCHECK')).toContain('bin/jobhub-healthcheck');
    expect(last('EXPOSE')?.split(' ')).toEqual(['3000', '9464']);
  });

  it('names every Procfile process in its entry point', () => {
    const entry = readFileSync(join(root, PROCESS_ENTRY), 'utf8');
    const processes = [...procfile.matchAll(/^(\w+): node (dist\/\S+)$/gm)];
    expect(processes.map(([, name]) => name)).toEqual(['web', 'worker', 'clock', 'release']);
    for (const [, name, command] of processes) {
      expect(entry).toContain(`${name}: '${String(command).replace(/^dist\//, '')}'`);
    }
  });
});

describe('.dockerignore', () => {
  const patterns = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('!'));
  const ignored = (path: string): boolean => patterns.some((p) => path === p || path.startsWith(`${p}/`));

  it('keeps out what is built, installed or local, and keeps every source the image needs', () => {
    for (const path of ['node_modules', 'dist', '.git', '.env', 'test', 'coverage']) expect(ignored(path)).toBe(true);
    const sources = [...IMAGE_RUNTIME_PATHS.filter((p) => p !== 'dist'), 'tsconfig.json', 'tsconfig.build.json'];
    const compiled = (JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] }).include;
    for (const path of [...sources, ...compiled]) expect({ path, ignored: ignored(path) }).toEqual({ path, ignored: false });
  });
});

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  env_file?: { path: string; required: boolean }[];
  depends_on?: Record<string, { condition: string }>;
  profiles?: string[];
  healthcheck?: { test?: string[]; disable?: boolean };
}

describe('compose.yaml', () => {
  const compose = parse(readFileSync(join(root, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
  const hubServices = Object.entries(compose.services).filter(([, s]) => s.image === 'jobhub:local');

  it('runs MariaDB 10.11 and a Redis 7 that keeps its queues, on volumes', () => {
    expect(compose.services.mariadb?.image).toBe('mariadb:10.11');
    expect(compose.services.redis?.image).toBe('redis:7');
    expect(compose.services.redis?.command?.join(' ')).toContain('--appendonly yes');
    expect(compose.services.redis?.command?.join(' ')).toContain('--maxmemory-policy noeviction');
    expect(Object.keys(compose.volumes).sort()).toEqual(['mariadb-data', 'redis-data']);
  });

  it('starts every process of the image after the release step succeeded, each with its health check', () => {
    expect(hubServices.map(([name, s]) => [name, s.command?.[0]])).toEqual([
      ['release', 'release'],
      ['hub', 'hub'],
      ['web', 'web'],
      ['worker', 'worker'],
      ['clock', 'clock'],
    ]);
    for (const [name, service] of hubServices) {
      expect(service.env_file).toEqual([{ path: '.env', required: false }]);
      if (name === 'release') {
        expect(service.healthcheck?.disable).toBe(true);
        continue;
      }
      expect(service.depends_on?.release).toEqual({ condition: 'service_completed_successfully' });
      expect(service.healthcheck?.test).toEqual(['CMD', 'node', '/app/bin/jobhub-healthcheck']);
    }
    // `docker compose up` is the demo (one process, as npm start); the three apart are asked for by name.
    expect(hubServices.filter(([, s]) => !s.profiles).map(([name]) => name)).toEqual(['release', 'hub']);
  });

  it('sets only variables the hub\'s configuration knows', () => {
    const known = new Set(envVariables());
    for (const [name, service] of hubServices) {
      for (const variable of Object.keys(service.environment ?? {})) expect({ name, variable, known: known.has(variable) }).toEqual({ name, variable, known: true });
    }
  });
});
