/**
 * The README's walk-through, run as written: `npm start` (the "Two commands" block; `npm install`
 * is what set this checkout up, so it is not run again), then every line of the block marked
 * `<!-- walkthrough -->`, on two "machines" (two HOME folders with a Roo Code store each). The
 * only substitution: the relay's URL, since a test never takes the fixed port 8787. It passes
 * when a task Roo Code writes on the first machine reaches the second one's store.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assistantWrite, smallTask } from '../support/device-fixture';
import { waitFor } from '../support/redis';

const ROOT = join(__dirname, '..', '..');
const PASSWORD = 'a walk-through password';
const ROO_STORE = ['.config', 'Code', 'User', 'globalStorage', 'rooveterinaryinc.roo-cline'];
const TASK = '0199b2c3-d4e5-7f60-8a9b-0c1d2e3f4a5b';

/** The commands of the README's walk-through block, comments and blank lines dropped. */
async function walkthroughLines(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const block = /<!-- walkthrough[^>]*-->\s*```sh\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, 'the README has a walk-through block');
  return block[1]!.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim()).filter(Boolean);
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Running {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** Runs `line` with bash in the checkout, in its own process group. */
function run(line: string, env: Record<string, string>, input = ''): Running {
  const child = spawn('bash', ['-c', line], { cwd: ROOT, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  child.stdin!.end(input);
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Signals the whole group of a command this test started, and waits for it. */
async function stop(running: Running, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  if (running.child.exitCode === null && running.child.pid) {
    try {
      process.kill(-running.child.pid, signal);
    } catch {
      // already gone
    }
  }
  return running.exited;
}

describe('README walk-through: from npm start to two devices syncing a task', function () {
  this.timeout(180_000);
  let dir: string;
  const started: Running[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'roo-sync-walkthrough-'));
  });

  after(async () => {
    for (const running of started.reverse()) await stop(running, 'SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('runs every line of the README as written and the task reaches the second machine', async () => {
    const lines = await walkthroughLines();
    assert.deepEqual(lines.map((l) => l.split(' ').slice(0, 3).join(' ')), ['npx roo-sync user', 'npx roo-sync login', 'npx roo-sync sync']);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const base: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      // npx finds the package's own bin; nothing may ask the registry.
      npm_config_offline: 'true',
      npm_config_update_notifier: 'false',
      npm_config_fund: 'false',
    };
    const relayEnv = { ...base, HOME: join(dir, 'relay-home'), DATA_DIR: join(dir, 'relay-data'), PORT: String(port) };

    // "npm install && npm start" (installed already).
    const relay = run('npm start', relayEnv);
    started.push(relay);
    await waitFor(async () => (await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false)), `the relay on ${url} (${relay.output()})`, 60_000, 100);

    const machines = await Promise.all(['desktop', 'laptop'].map(async (name) => {
      const home = join(dir, name);
      const store = join(home, ...ROO_STORE);
      await mkdir(join(store, 'tasks'), { recursive: true });
      return { name, store, env: { ...base, HOME: home } };
    }));
    const asWritten = (line: string): string => line.replaceAll('http://127.0.0.1:8787', url);

    // Once, beside the relay.
    const userAdd = run(asWritten(lines[0]!), relayEnv, `${PASSWORD}\n`);
    assert.equal(await userAdd.exited, 0, userAdd.output());
    // Each machine signs in, then syncs live.
    const syncs: Running[] = [];
    for (const machine of machines) {
      const login = run(asWritten(lines[1]!), machine.env, `${PASSWORD}\n`);
      assert.equal(await login.exited, 0, login.output());
      const sync = run(asWritten(lines[2]!), machine.env);
      started.push(sync);
      syncs.push(sync);
    }
    for (const sync of syncs) await waitFor(() => /syncing/.test(sync.output()), `sync to start (${sync.output()})`, 60_000, 100);

    // Roo Code writes a task on the desktop; it shows up in the laptop's store.
    await assistantWrite(machines[0]!.store, smallTask(TASK, ['Walk through the README', 'Done']));
    const onLaptop = join(machines[1]!.store, 'tasks', TASK, 'ui_messages.json');
    await waitFor(async () => {
      const ui = await readFile(onLaptop, 'utf8').then((t) => JSON.parse(t) as Array<{ text?: string }>).catch(() => []);
      return ui.some((m) => m.text === 'Done');
    }, 'the task on the laptop', 60_000, 100);
    await waitFor(async () => {
      const index = await readFile(join(machines[1]!.store, 'tasks', '_index.json'), 'utf8').then((t) => JSON.parse(t) as { entries: Array<{ id: string }> }).catch(() => ({ entries: [] }));
      return index.entries.some((e) => e.id === TASK);
    }, 'the task in the index Roo Code reads on the laptop', 30_000, 100);

    // Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it) ends each sync
    // cleanly: what is queued is pushed and nothing is left queued.
    for (const sync of syncs) {
      await stop(sync, 'SIGINT');
      assert.match(sync.output(), /stopped syncing queued=0/, sync.output());
    }
  });
});
