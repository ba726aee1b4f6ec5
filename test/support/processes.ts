import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths';
import { track } from './resources';

export interface HubProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited(): Promise<number | null>;
}

/** Runs a built entry point (`dist/...`): multi-process tests exercise what production runs. */
export function spawnBuilt(entry: string, env: NodeJS.ProcessEnv, args: string[] = []): HubProcess {
  const root = projectRoot();
  const script = join(root, 'dist', entry);
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`npm run build\` (npm test does)`);
  return spawnNodeScript(`process ${entry}`, script, args, root, env);
}

/** A node script as a child, its output kept, tracked by the leak guard until it exits. */
export function spawnNodeScript(label: string, script: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): HubProcess {
  const child = spawn(process.execPath, [script, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  track({ kind: 'closable', label, value: { isOpen: () => child.exitCode === null && child.signalCode === null } });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited: () => exit,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const check = (): void => {
          if (pattern.test(out)) return resolve();
          if (child.exitCode !== null) return reject(new Error(`${label} exited (${child.exitCode}) before ${pattern}:\n${out}\n${err}`));
          if (Date.now() - started > timeoutMs) return reject(new Error(`${label}: no ${pattern} within ${timeoutMs} ms:\n${out}\n${err}`));
          setTimeout(check, 50);
        };
        check();
      });
    },
  };
}
