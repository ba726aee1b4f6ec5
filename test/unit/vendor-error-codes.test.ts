import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/**
 * Each vendor's error codes are read in one place, its system's *.errors.ts, so what a code means is
 * decided once. Emulators write codes (they play the vendor) and are not held to it.
 */
const ROOT = resolve(__dirname, '../..');
/** A comparison with a code literal: `code === 'SYSTEM_ERROR'`, `Code !== 'isv.X'`; not a `typeof` check, nor Node's own socket codes (`ECONNREFUSED`). */
const READS_A_CODE = /(?<!typeof \S+)code\)?\s*[!=]==?\s*'(?!E[A-Z_]+')[A-Za-z_.]+'/i;
/** Literals in an errors file that look like vendor codes: `isv.X`, `LimitExceeded.Y`, `ORDER_NOT_EXIST`. */
const CODE_LITERAL = /'((?:isv|isp)\.[A-Z_]+|[A-Z][A-Za-z]+\.[A-Z][A-Za-z.]+|[A-Z][A-Z0-9]*_[A-Z0-9_]+)'/g;
/** Success markers are not errors: a live client checks them itself. */
const SUCCESS = new Set(["'OK'", "'Ok'", "'SUCCESS'"]);

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return name === 'emulator' ? [] : tsFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const systems = readdirSync(join(ROOT, 'integrations')).filter((name) => statSync(join(ROOT, 'integrations', name)).isDirectory());
const errorFiles = (system: string): string[] => tsFiles(`integrations/${system}`).filter((f) => f.endsWith('.errors.ts'));
/** Where codes must not be read: the system's own non-error files, and every job, worker and route. */
const readers = (system: string): string[] => [...tsFiles(`integrations/${system}`).filter((f) => !f.endsWith('.errors.ts')), ...tsFiles('jobs'), ...tsFiles('workers'), ...tsFiles('server')];

describe('vendor error codes', () => {
  it('every system with codes has its errors file', () => {
    for (const system of ['wechat-pay', 'sms', 'wechat-mp', 'mail', 'apple', 'school-tms']) expect(errorFiles(system)).toHaveLength(1);
  });

  it('are compared only in the errors files', () => {
    const comparisons = systems
      .flatMap(readers)
      .filter((file, i, all) => all.indexOf(file) === i)
      .flatMap((file) =>
        readFileSync(join(ROOT, file), 'utf8')
          .split('\n')
          .flatMap((line, i) => (READS_A_CODE.test(line) && ![...SUCCESS].some((ok) => line.includes(ok)) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
      );
    expect(comparisons).toEqual([]);
  });

  it('named in an errors file appear in no other file of the hub', () => {
    const found: string[] = [];
    for (const system of systems) {
      const codes = new Set(errorFiles(system).flatMap((f) => [...readFileSync(join(ROOT, f), 'utf8').matchAll(CODE_LITERAL)].map((m) => m[1] ?? '')));
      expect(system === 'apple' || codes.size > 0).toBe(true);
      for (const file of readers(system)) {
        const text = readFileSync(join(ROOT, file), 'utf8');
        for (const code of codes) if (text.includes(`'${code}'`)) found.push(`${relative('.', file)}: '${code}' (${system})`);
      }
    }
    expect(found).toEqual([]);
  });
});
