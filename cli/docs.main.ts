import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../lib/paths';
import { EXAMPLE_FILE, generatedReadme, renderConfiguration } from './docs';

/** `npm run docs:generate`: rewrites the generated parts of README.md and docs/configuration.md. */
const root = projectRoot();
const readme = join(root, 'README.md');
writeFileSync(readme, generatedReadme(readFileSync(readme, 'utf8'), readFileSync(join(root, EXAMPLE_FILE), 'utf8')));
writeFileSync(join(root, 'docs', 'configuration.md'), renderConfiguration());
