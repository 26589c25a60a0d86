/**
 * A Redis server of its own for a fault test: `redis-server` on a free 127.0.0.1 port, no
 * persistence (the relay keeps only caches and pub/sub there), in a temp folder. `stop()` kills
 * it (SIGKILL: what a crash or an OOM kill does); `start()` brings it back on the same port, empty.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'node:net';
import { freePort } from './free-port';

export interface RedisInstance {
  readonly port: number;
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `INFO` fields (e.g. total_commands_processed, used_memory) when running. */
  info(): Promise<Record<string, string>>;
  remove(): Promise<void>;
}

/** Sends one inline command and resolves with the raw reply. */
function command(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let reply = '';
    socket.setTimeout(2000, () => socket.destroy(new Error('redis did not answer')));
    socket.once('error', reject);
    socket.connect(port, '127.0.0.1', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      const bulk = /^\$(\d+)\r\n/.exec(reply);
      if ((bulk && reply.length >= bulk[0].length + Number(bulk[1]) + 2) || (!bulk && reply.endsWith('\r\n') && !reply.startsWith('$'))) {
        socket.end();
        resolve(reply);
      }
    });
  });
}

export async function startRedisInstance(): Promise<RedisInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'roo-sync-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let removed: Promise<void> | undefined;
  const instance: RedisInstance = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (child) return;
      const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxclients', '20000'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
      proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
      exited = new Promise((resolve) => proc.once('exit', () => resolve()));
      child = proc;
      const deadline = Date.now() + 10_000;
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`redis-server exited: ${out}`);
        const pong = await command(port, 'PING').catch(() => '');
        if (pong.startsWith('+PONG')) return;
        if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${port}: ${out}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      const proc = child;
      if (!proc) return;
      child = undefined;
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
    async info() {
      const reply = await command(port, 'INFO');
      const fields: Record<string, string> = {};
      for (const line of reply.split('\r\n')) {
        const at = line.indexOf(':');
        if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
      }
      return fields;
    },
    remove() {
      removed ??= (async () => {
        await instance.stop();
        await rm(dir, { recursive: true, force: true });
      })();
      return removed;
    },
  };
  await instance.start();
  return instance;
}
