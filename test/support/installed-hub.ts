import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../lib/paths';
import { IMAGE_RUNTIME_PATHS, PROCESS_ENTRY, PRODUCTION_INSTALL } from './image';
import { spawnNodeScript, type HubProcess } from './processes';

const run = promisify(execFile);

/** A copy of the hub laid out as the image's runtime stage holds it, in a scratch folder. */
export interface InstalledCopy {
  readonly dir: string;
  remove(): Promise<void>;
}

/**
 * Copies IMAGE_RUNTIME_PATHS into a scratch folder and installs the production dependencies there as
 * the Dockerfile does (`--prefer-offline`: npm's cache spares the registry). A development dependency
 * is then missing, as in the image.
 */
export async function installLikeTheImage(): Promise<InstalledCopy> {
  const root = projectRoot();
  const dir = mkdtempSync(join(tmpdir(), 'jobhub-install-'));
  const remove = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    for (const path of IMAGE_RUNTIME_PATHS) cpSync(join(root, path), join(dir, path), { recursive: true });
    const [command, ...args] = PRODUCTION_INSTALL;
    // Not the test's environment: npm test's npm_config_* variables would steer the install.
    await run(command, [...args, '--prefer-offline'], { cwd: dir, env: { PATH: process.env.PATH, HOME: process.env.HOME }, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    await remove();
    throw err;
  }
  return { dir, remove };
}

/** Starts one process of the installed copy by its name, through the image's entry point, from the copy's folder. */
export function spawnInstalled(copy: InstalledCopy, name: string, env: NodeJS.ProcessEnv): HubProcess {
  return spawnNodeScript(`installed ${name}`, join(copy.dir, PROCESS_ENTRY), [name], copy.dir, env);
}

/** The port a process logged with `msg` (`web listening`, `metrics listening`): started on port 0, it picked a free one. */
export function loggedPort(proc: HubProcess, msg: string): number {
  const port = new RegExp(`"port":(\\d+)[^\\n]*"msg":"${msg}"`).exec(proc.stdout())?.[1];
  if (!port) throw new Error(`no port in the "${msg}" line:\n${proc.stdout()}`);
  return Number(port);
}
