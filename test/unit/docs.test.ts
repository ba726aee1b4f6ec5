import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { JOBS } from '../../jobs/index';
import { EXAMPLE_FILE, envVariables, generatedReadme, renderCatalogue, renderConfiguration } from '../../cli/docs';

/** The generated docs are committed; a change to the registry, the cron table or the config schema must regenerate them. */
const ROOT = resolve(__dirname, '../..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const STALE = 'stale generated docs: run npm run docs:generate';

function expectCurrent(actual: string, expected: string, file: string): void {
  if (actual !== expected) throw new Error(`${file} is ${STALE}`);
}

describe('generated docs', () => {
  const readme = read('README.md');

  it('README.md holds the current job catalogue and the compiled "Writing a job" example', () => {
    expectCurrent(readme, generatedReadme(readme, read(EXAMPLE_FILE)), 'README.md');
  });

  it('docs/configuration.md is generated from the current config schema', () => {
    expectCurrent(read('docs/configuration.md'), renderConfiguration(), 'docs/configuration.md');
  });

  it('the catalogue names every job of the registry with its queue', () => {
    const catalogue = renderCatalogue();
    for (const job of JOBS) expect(catalogue).toContain(`| \`${job.name}\` | \`${job.queue}\` |`);
  });

  it('the configuration page names and describes every variable of the schema', () => {
    const page = renderConfiguration();
    const variables = envVariables();
    expect(variables.length).toBeGreaterThan(50);
    for (const name of variables) {
      const row = page.split('\n').find((line) => line.startsWith(`| \`${name}\` |`));
      expect(row).toBeDefined();
      expect(row?.endsWith('|  |')).toBe(false);
    }
  });

  it('README.md stays within 300 lines', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(301);
  });
});
