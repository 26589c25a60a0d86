/**
 * One isolated code-server (VS Code 1.100.3's server build) for extension-host tests: its own
 * config, data, temp, user-data and extensions folders under `runDir`, bound to 127.0.0.1 on a
 * port the OS picks, in its own process group so that stopping it ends its file watchers and
 * extension hosts too. See shared/reference/extension-tests.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The command that installs code-server and Chromium (printed when either is missing). */
export const INSTALL_COMMAND = '.ci/install-code-server';

/** Where `.ci/install-code-server` puts code-server, as it decides it. */
export function codeServerDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['ROO_SYNC_CODE_SERVER_DIR'] || join(homedir(), '.cache', 'roo-sync', 'code-server');
}

/** The code-server binary; throws (never skips) with the install command when it is missing. */
export function codeServerBinary(env: NodeJS.ProcessEnv = process.env): string {
  const bin = join(codeServerDir(env), 'node_modules', '.bin', 'code-server');
  if (!existsSync(bin)) {
    throw new Error(`code-server 4.100.3 is not installed at ${bin}: run \`${INSTALL_COMMAND}\` (as root; it also installs Chromium), or point ROO_SYNC_CODE_SERVER_DIR at an install`);
  }
  return bin;
}

export interface CodeServerOptions {
  /** Folder that holds everything this instance writes. */
  runDir: string;
  /** Extra environment for the server and so for its extension hosts. */
  env?: Record<string, string>;
}

export interface CodeServer {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The server's pid, which is also its process group id. */
  pid: number;
  /** VS Code's user-data folder (`<userDataDir>/User/globalStorage/...`). */
  userDataDir: string;
  extensionsDir: string;
  /** Everything the server printed so far. */
  output(): string;
  /** Installs a .vsix into this instance's extensions folder (runs code-server --install-extension). */
  installExtension(vsix: string): Promise<void>;
  /** Ends the whole process group (SIGTERM, then SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
}

function isolatedEnv(runDir: string, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // A home of its own: discovery of task stores must find this "machine's" stores only.
    HOME: join(runDir, 'home'),
    XDG_CONFIG_HOME: join(runDir, 'cfg'),
    XDG_DATA_HOME: join(runDir, 'data'),
    TMPDIR: join(runDir, 'tmp'),
    ...extra,
  };
}

function commonArgs(runDir: string): string[] {
  return ['--user-data-dir', join(runDir, 'ud'), '--extensions-dir', join(runDir, 'ext')];
}

/** Starts code-server and resolves once it listens (it prints the port it got). */
export async function startCodeServer(options: CodeServerOptions): Promise<CodeServer> {
  const bin = codeServerBinary();
  const { runDir } = options;
  await Promise.all(['home', 'cfg', 'data', 'tmp', 'ud', 'ext'].map((d) => mkdir(join(runDir, d), { recursive: true })));
  const env = isolatedEnv(runDir, options.env);
  const child = spawn(
    bin,
    ['--auth', 'none', '--bind-addr', '127.0.0.1:0', ...commonArgs(runDir), '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust'],
    { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      const match = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (match) resolve(Number(match[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`code-server exited (${code ?? signal}) before listening:\n${output}`)));
  });
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    userDataDir: join(runDir, 'ud'),
    extensionsDir: join(runDir, 'ext'),
    output: () => output,
    installExtension: (vsix) => runToEnd(bin, [...commonArgs(runDir), '--install-extension', vsix], env),
    stop: () => (stopping ??= stopGroup(child, exited)),
  };
}

async function stopGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  const pgid = child.pid!;
  signalGroup(pgid, 'SIGTERM');
  const timer = setTimeout(() => signalGroup(pgid, 'SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  // Children that outlive the leader (file watchers) still belong to the group.
  signalGroup(pgid, 'SIGKILL');
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function runToEnd(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`code-server ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}
