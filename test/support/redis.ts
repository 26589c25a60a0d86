/**
 * Redis for tests: the shared server (TEST_REDIS_URL, default redis://127.0.0.1:6379) with an
 * isolated key/channel prefix per test, and a private `redis-server` process a test starts,
 * stops and restarts itself (to prove the relay survives Redis going away).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

export function testRedisUrl(): string {
  return process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** A prefix no other test uses, for keys and channels. */
export function uniquePrefix(label: string): string {
  return `roo-sync-test:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** Polls `check` until it returns true, or throws naming `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, intervalMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Connects to the test Redis and waits until it answers. Rejects (so the suite FAILS, never
 * skips) when Redis cannot be reached within `timeoutMs`.
 */
export async function connectTestRedis(url = testRedisUrl(), timeoutMs = 5_000): Promise<Redis> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 1, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    client.disconnect();
    throw new Error(`test Redis at ${url} is unreachable: ${(error as Error).message}`);
  }
  return client;
}

/** Deletes every key under `prefix` (SCAN, not KEYS, so a shared server is not blocked). */
export async function deleteKeysWithPrefix(client: Redis, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await client.del(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** Deletes every key under `prefix` on the test Redis, on a connection of its own (suite cleanup). */
export async function deleteTestKeys(prefix: string): Promise<void> {
  const client = await connectTestRedis();
  try {
    await deleteKeysWithPrefix(client, prefix);
  } finally {
    client.disconnect();
  }
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A redis-server process owned by one test: on 127.0.0.1, nothing saved to disk. */
export class RedisServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;

  private constructor(readonly port: number) {}

  /** Starts a server on a free port and waits until it answers PING. */
  static async start(): Promise<RedisServerProcess> {
    const server = new RedisServerProcess(await freePort());
    await server.start();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** PID of the running process, undefined while stopped. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts (again, on the same port) and waits until it answers. */
  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(REDIS_SERVER_BIN, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--protected-mode', 'yes', '--loglevel', 'warning', '--dir', '/tmp',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const spawnFailed = new Promise<never>((_resolve, reject) => child.once('error', reject));
    spawnFailed.catch(() => undefined);
    try {
      await Promise.race([spawnFailed, this.waitUntilAnswering()]);
    } catch (error) {
      await this.stop();
      throw new Error(`redis-server on port ${this.port} did not start: ${(error as Error).message} ${stderr}`);
    }
  }

  /** Kills the process (by its PID) and waits for it to exit. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // Already gone.
      }
    }
    await this.exited;
    this.child = undefined;
    this.exited = undefined;
  }

  private async waitUntilAnswering(): Promise<void> {
    await waitFor(async () => {
      if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) throw new Error(`exited with ${this.child.exitCode}`);
      const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, connectTimeout: 500, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => undefined);
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    }, `redis-server on port ${this.port}`, 10_000, 25);
  }
}
