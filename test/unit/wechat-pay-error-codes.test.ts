import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * WeChat Pay's error codes are read in one place, wechat-pay.errors.ts, so what a code means is
 * decided once. The emulator writes codes (it plays WeChat) and is not held to it.
 */
const ROOT = resolve(__dirname, '../..');
const READS_A_CODE = /code\)?\s*[!=]==?\s*'[A-Z_]+'/;

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .filter((name) => name.endsWith('.ts') && !name.includes('emulator') && name !== 'wechat-pay.errors.ts')
    .map((name) => join(dir, name));
}

describe('WeChat Pay error codes', () => {
  it('are read only in wechat-pay.errors.ts', () => {
    const readers = [...sources('integrations/wechat-pay'), ...sources('jobs/wechat-pay')].flatMap((file) =>
      readFileSync(join(ROOT, file), 'utf8')
        .split('\n')
        .flatMap((line, i) => (READS_A_CODE.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(readers).toEqual([]);
  });
});
