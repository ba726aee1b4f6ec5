import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { formatUsersFile, hashPassword, HUB_ROLES, parseUsersFile, USER_NAME, UsersFileError, type HubRole, type HubUser } from '../../lib/users';
import { CliError, EXIT, EXIT_CODES_HELP, notFound, usageError } from './exit';
import { table } from './output';
import { run } from './run';
import { withConnections } from './runtime';
import { promptHidden, readStdinLine } from './stdin';

function usersFilePath(): string {
  const path = process.env.HUB_USERS_FILE?.trim();
  if (!path) throw usageError('HUB_USERS_FILE is not set: it names the file of dashboard users to edit');
  return path;
}

/** The file's users; none when it does not exist yet. A malformed file is never rewritten. */
function readUsers(path: string): HubUser[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new CliError(EXIT.failed, `cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return parseUsersFile(text);
  } catch (err) {
    if (err instanceof UsersFileError) throw new CliError(EXIT.failed, `${path} is malformed, fix it by hand first: ${err.message}`);
    throw err;
  }
}

/** Written beside and renamed over, so the web process never reads half a file; owner-only, it holds hashes. */
function writeUsers(path: string, users: readonly HubUser[]): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, formatUsersFile(users), { mode: 0o600 });
  renameSync(temporary, path);
}

async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    const first = await promptHidden('password: ');
    const again = await promptHidden('again: ');
    if (first !== again) throw usageError('the passwords differ');
    return first;
  }
  return readStdinLine();
}

const RESTART_NOTE = 'the web process reads the file at start: restart it to apply';

function registerAdd(users: Command): void {
  users
    .command('add')
    .description('add a dashboard user; the password is read from stdin (one line) or asked for without echo at a terminal')
    .argument('<name>', 'the login name (no spaces or ":")')
    .addOption(new Option('--role <role>', 'what the user may do').choices([...HUB_ROLES]).makeOptionMandatory())
    .option('--replace', 'replace the role and password of an existing user')
    .addHelpText('after', `\nExamples:\n  jobhub users add li.lei --role operator\n  printf '%s\\n' "$PASSWORD" | jobhub users add ops-bot --role viewer\n${EXIT_CODES_HELP}`)
    .action((name: string, opts: { role: HubRole; replace?: boolean }, cmd: Command) =>
      run(cmd, async (out) => {
        if (!USER_NAME.test(name)) throw usageError(`invalid user name ${JSON.stringify(name)}: no spaces or ":", at most 128 characters`);
        const path = usersFilePath();
        await withConnections(async (c) => {
          const existing = readUsers(path);
          const replacing = existing.some((u) => u.name === name);
          if (replacing && !opts.replace) throw new CliError(EXIT.failed, `user ${name} already exists (--replace to change it)`);
          const password = await readPassword();
          if (password.length === 0) throw usageError('the password is empty');
          const user: HubUser = { name, role: opts.role, hash: await hashPassword(password) };
          writeUsers(path, replacing ? existing.map((u) => (u.name === name ? user : u)) : [...existing, user]);
          await c.audit({ action: replacing ? 'user.replace' : 'user.add', businessKey: name, outcome: 'ok', detail: { role: opts.role } });
          out.result({ name, role: opts.role, replaced: replacing, file: path }, () => `${replacing ? 'replaced' : 'added'} ${name} (${opts.role}) in ${path}; ${RESTART_NOTE}`);
        });
      }),
    );
}

function registerList(users: Command): void {
  users
    .command('list')
    .description('the users of HUB_USERS_FILE with their roles (never their hashes)')
    .addHelpText('after', `\nExample:\n  jobhub users list --json\n${EXIT_CODES_HELP}`)
    .action((_opts: unknown, cmd: Command) =>
      run(cmd, async (out) => {
        const list = readUsers(usersFilePath()).map((u) => ({ name: u.name, role: u.role }));
        out.result(list, () => table(['NAME', 'ROLE'], list.map((u) => [u.name, u.role])));
      }),
    );
}

function registerRemove(users: Command): void {
  users
    .command('remove')
    .description('remove a dashboard user')
    .argument('<name>', 'the login name')
    .addHelpText('after', `\nExample:\n  jobhub users remove li.lei\n${EXIT_CODES_HELP}`)
    .action((name: string, _opts: unknown, cmd: Command) =>
      run(cmd, async (out) => {
        const path = usersFilePath();
        await withConnections(async (c) => {
          const existing = readUsers(path);
          const removed = existing.find((u) => u.name === name);
          if (!removed) throw notFound(`no user ${name} in ${path}`);
          writeUsers(path, existing.filter((u) => u !== removed));
          await c.audit({ action: 'user.remove', businessKey: name, outcome: 'ok', detail: { role: removed.role } });
          out.result({ name, removed: true, file: path }, () => `removed ${name} from ${path}; ${RESTART_NOTE}`);
        });
      }),
    );
}

export function registerUserCommands(program: Command): void {
  const users = program
    .command('users')
    .description('the dashboard users of HUB_USERS_FILE: add, list, remove')
    .addHelpText('after', EXIT_CODES_HELP);
  registerAdd(users);
  registerList(users);
  registerRemove(users);
}
