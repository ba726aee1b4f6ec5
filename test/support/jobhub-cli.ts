import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths';
import { childEnv } from './env';
import { track } from './resources';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const ROOT = projectRoot();
const MAIN = join(ROOT, 'dist', 'cli', 'jobhub.main.js');

/** Each run starts a Node process that loads the whole job registry: about a second, more on a busy machine. */
export const SEVERAL_CLI_RUNS_MS = 90_000;

/** Fails the file at once, saying why, when the built CLI is missing. */
export function assertJobhubBuilt(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` (npm test does)`);
}

/**
 * The built `jobhub` (dist/cli/jobhub.main.js) as an operator runs it, against this worker's
 * database and the given queue prefix; `USER` is the actor its audit rows name. stdin gets `input`.
 */
export function jobhubCli(options: { prefix: string; actor: string; env?: Record<string, string> }): (args: string[], input?: string) => Promise<CliRun> {
  const env = childEnv({ HUB_QUEUE_PREFIX: options.prefix, LOG_LEVEL: 'silent', USER: options.actor, ...options.env });
  return (args, input = '') =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
      track({ kind: 'closable', label: `jobhub ${args.join(' ')}`, value: { isOpen: () => child.exitCode === null && child.signalCode === null } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
}
