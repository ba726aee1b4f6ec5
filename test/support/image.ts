import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths';

/**
 * What the image's runtime stage holds besides its node_modules, as paths of the repository: the
 * Dockerfile copies exactly these (dist/ from its build stage, which `npm test` has built here) and
 * the production-install test copies the same. A runtime read of a file left out fails that test.
 */
export const IMAGE_RUNTIME_PATHS = [
  'package.json',
  'package-lock.json',
  'dist',
  'bin',
  'entities/business-schema',
  'server/board/views',
  'server/board/assets',
] as const;

/** How the runtime stage installs its dependencies: the production ones only. */
export const PRODUCTION_INSTALL = ['npm', 'ci', '--omit=dev', '--no-audit', '--no-fund'] as const;

/** The image's entry point: the process named by the container's command. */
export const PROCESS_ENTRY = 'bin/jobhub-process';

export interface DockerStage {
  name: string;
  /** Each instruction with its continuation lines joined, comments dropped. */
  instructions: { keyword: string; args: string }[];
}

/** The Dockerfile at the repository's root, split into its stages. */
export function dockerfileStages(text = readFileSync(join(projectRoot(), 'Dockerfile'), 'utf8')): DockerStage[] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: DockerStage[] = [];
  for (const line of lines) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const args = rest.join(' ');
    if (keyword.toUpperCase() === 'FROM') {
      stages.push({ name: /\sAS\s+(\S+)$/i.exec(line)?.[1] ?? String(stages.length), instructions: [] });
    }
    stages.at(-1)?.instructions.push({ keyword: keyword.toUpperCase(), args });
  }
  return stages;
}

/** A COPY's sources (the last word is the destination; `--from`, `--chown` and the like are flags). */
export function copySources(args: string): { from: string | null; sources: string[] } {
  const words = args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length) ?? null;
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1).map((p) => p.replace(/^\/app\//, '').replace(/\/$/, '')) };
}
