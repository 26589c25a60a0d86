/**
 * `npm start` as an operator runs it: SIGTERM to the npm process must reach the relay and stop
 * it gracefully. Regression: the script ran through `sh -c`, which died of the SIGTERM npm
 * forwards without passing it on, so the relay kept running orphaned and kept its port.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = join(__dirname, '..', '..');

/** PIDs of every live descendant of `pid` (Linux /proc), for cleanup if the relay is orphaned. */
function descendants(pid: number): number[] {
  if (!existsSync('/proc')) return [];
  const parents = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(name)]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of parents.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** `promise`, or a rejection naming `what` after `ms` (a deadline for an event, not a sleep). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

describe('npm start', function () {
  this.timeout(120_000);
  let dataDir: string;
  let npm: ChildProcess | undefined;
  let spawned: number[] = [];

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'roo-sync-npm-start-'));
  });
  after(() => {
    // Only processes this test started: npm and what it spawned, by PID.
    for (const pid of [...spawned, ...(npm?.pid ? [npm.pid] : [])]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stops the relay gracefully when the npm process gets SIGTERM (regression: sh -c did not pass the signal on)', async () => {
    const env: Record<string, string> = { ...(process.env as Record<string, string>) };
    delete env.DATABASE_URL;
    delete env.REDIS_URL;
    Object.assign(env, { PORT: '0', HOST: '127.0.0.1', DATA_DIR: join(dataDir, 'data'), LOG_LEVEL: 'info', npm_config_update_notifier: 'false' });
    const child = spawn('npm', ['start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    npm = child;
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })));

    const logs: Array<Record<string, unknown>> = [];
    const waiters: Array<{ msg: string; resolve: (entry: Record<string, unknown>) => void }> = [];
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return; // npm's "> roo-sync@0.1.0 start" banner
      const entry = JSON.parse(line) as Record<string, unknown>;
      logs.push(entry);
      for (const waiter of waiters.filter((w) => w.msg === entry.msg)) waiter.resolve(entry);
    });
    const logged = (msg: string): Promise<Record<string, unknown>> => {
      const seen = logs.find((entry) => entry.msg === msg);
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ msg, resolve }));
    };

    const listening = await within(
      Promise.race([logged('relay listening'), exited.then((exit) => { throw new Error(`npm start exited early (${JSON.stringify(exit)}): ${stderr}`); })]),
      60_000, `no "relay listening" from npm start; stderr: ${stderr}`,
    );
    const port = Number(listening.port);
    assert.ok(port > 0);
    const url = `http://127.0.0.1:${port}`;
    assert.equal((await fetch(`${url}/healthz`)).status, 200);

    spawned = descendants(child.pid!);
    assert.ok(spawned.length > 0, 'npm start spawned the relay');
    process.kill(child.pid!, 'SIGTERM');

    const stopped = await within(logged('relay stopped'), 30_000, `the relay did not log "relay stopped" after SIGTERM to npm (orphaned?); stderr: ${stderr}`);
    assert.equal(stopped.level, 'info');
    assert.ok(logs.some((entry) => entry.msg === 'signal received; shutting down' && entry.signal === 'SIGTERM'));
    assert.deepEqual(await within(exited, 30_000, 'npm did not exit'), { code: 0, signal: null });
    await assert.rejects(fetch(`${url}/healthz`), 'the port no longer answers');
    const alive = spawned.filter((pid) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z '));
    assert.deepEqual(alive, [], 'no process of npm start is left running');
  });
});
