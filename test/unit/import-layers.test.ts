import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * Imports flow one way (docs/architecture.md): `server`, `cli` → `workers` → `jobs` →
 * `integrations` → `entities` → `lib`, and no file reaches itself through its imports. Read from
 * the sources, so a new file is held to it without anyone listing it.
 */
const ROOT = resolve(__dirname, '../..');
const LAYERS = ['lib', 'entities', 'integrations', 'jobs', 'workers', 'server', 'cli'] as const;
type Layer = (typeof LAYERS)[number];
/** Higher may import lower; `server` and `cli` stand side by side at the top. */
const RANK: Record<Layer, number> = { lib: 0, entities: 1, integrations: 2, jobs: 3, workers: 4, server: 5, cli: 5 };

function sourceFiles(dir: string): string[] {
  const full = join(ROOT, dir);
  let entries: string[];
  try {
    entries = readdirSync(full);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

function resolveImport(from: string, spec: string): string | null {
  const base = join(dirname(from), spec);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) {
    try {
      if (statSync(join(ROOT, candidate)).isFile()) return candidate;
    } catch {
      // not this one
    }
  }
  return null;
}

const layerOf = (file: string): Layer | null => (LAYERS as readonly string[]).find((l) => file.startsWith(`${l}/`)) as Layer | undefined ?? null;

const files = LAYERS.flatMap((layer) => sourceFiles(layer));
const graph = new Map<string, string[]>(
  files.map((file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) => resolveImport(file, m[1] ?? m[2] ?? '')).filter((t): t is string => t !== null);
    return [file, targets];
  }),
);

describe('import layers', () => {
  it('reads the sources it checks', () => {
    expect(files.length).toBeGreaterThan(100);
    expect(graph.get('server/app.ts')?.length).toBeGreaterThan(5);
  });

  it('never imports a higher layer', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = layerOf(file);
      for (const target of targets) {
        const to = layerOf(target);
        if (from && to && RANK[to] > RANK[from]) wrong.push(`${file} → ${target}`);
        if (from && to && from !== to && RANK[to] === RANK[from]) wrong.push(`${file} → ${target} (side by side)`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('keeps emulators out of live code: only a system\'s index.ts reaches its emulator, by type or by a dynamic import', () => {
    const wrong: string[] = [];
    const staticImport = /(?:^|\n)\s*(import|export)(\s+type)?\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g;
    for (const file of files) {
      if (!file.startsWith('integrations/') || file.includes('/emulator/')) continue;
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const m of text.matchAll(staticImport)) {
        const target = resolveImport(file, m[3] ?? '');
        if (!target?.includes('/emulator/')) continue;
        const typeOnly = m[2] !== undefined;
        if (!(file.endsWith('/index.ts') && typeOnly)) wrong.push(`${file} → ${target}${typeOnly ? ' (type)' : ''}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('has no import cycles', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (file: string): void => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next].map((f) => relative('.', f)).join(' → '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of files) if (!state.has(file)) visit(file);
    expect(cycles).toEqual([]);
  });
});
