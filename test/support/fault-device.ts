/**
 * A device of the fault suite: a "machine" folder (its own HOME, config and data), a Roo Code
 * task store in `<home>/store`, signed in through `roo-sync login` and run as `roo-sync sync`
 * (the built dist/cli.js) against a relay URL (the fault proxy). It can be SIGKILLed and started
 * again on the same folders, like a laptop whose process died.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { machineIn, runCli, spawnCli, type Machine } from './cli-process';

export interface FaultDevice {
  readonly name: string;
  readonly machine: Machine;
  readonly storePath: string;
  /** Starts `roo-sync sync` (no-op when running). */
  start(): Promise<void>;
  running(): boolean;
  pid(): number | undefined;
  /** SIGKILL now; resolves when it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful: pushes what is queued while the relay is reachable); resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Resolves once the current run has signed in and reached the relay (its first online status line). */
  online(timeoutMs?: number): Promise<void>;
  /** Everything `sync` printed on stderr across its runs (status lines, errors). */
  log(): string;
}

export async function createFaultDevice(root: string, name: string, serverUrl: string, email: string, password: string): Promise<FaultDevice> {
  const machine = await machineIn(join(root, name));
  const storePath = join(machine.home, 'store');
  await mkdir(join(storePath, 'tasks'), { recursive: true });
  const login = await runCli(machine, ['login', '--server', serverUrl, '--email', email, '--device-name', name], { input: `${password}\n` });
  if (login.code !== 0) throw new Error(`login of ${name} failed (${login.code}): ${login.stderr}`);
  let run: ReturnType<typeof spawnCli> | undefined;
  let history = '';
  const alive = (): boolean => !!run && run.child.exitCode === null && run.child.signalCode === null;
  return {
    name,
    machine,
    storePath,
    async start() {
      if (alive()) return;
      if (run) history += run.stderr();
      // ROO_SYNC_DEBUG=1 in the test's environment passes on to the devices (debug lines in their
      // log); FAULT_DEVICE_NODE_ARGS (space-separated) go before the script, e.g.
      // `--cpu-prof --cpu-prof-dir=DIR` (Node refuses --cpu-prof in NODE_OPTIONS).
      const env: Record<string, string> = {};
      if (process.env.ROO_SYNC_DEBUG) env.ROO_SYNC_DEBUG = '1';
      const nodeArgs = process.env.FAULT_DEVICE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
      run = spawnCli(machine, ['sync', '--source', `roo-code=${storePath}`], { env, nodeArgs });
    },
    running: alive,
    pid: () => run?.child.pid,
    async kill() {
      if (!run) return;
      if (alive()) run.child.kill('SIGKILL');
      await run.done;
    },
    async stop() {
      if (!run) return null;
      if (alive()) run.child.kill('SIGTERM');
      return (await run.done).code;
    },
    async online(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!/^roo-sync: (synced|syncing( \(\d+ pending\))?)$/m.test(run?.stderr() ?? '')) {
        if (!alive()) throw new Error(`${name} exited: ${run?.stderr() ?? ''}`);
        if (Date.now() > deadline) throw new Error(`${name} did not come online: ${run?.stderr() ?? ''}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    log: () => history + (run?.stderr() ?? ''),
  };
}
