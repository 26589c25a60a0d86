/**
 * A relay in a real child process (test/support/sync-relay-child.ts through tsx), for tests that
 * kill it: start, read its port, sign a device in over HTTP, SIGKILL it by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

const CHILD = join(__dirname, 'sync-relay-child.ts');

export interface RelayChild {
  readonly pid: number;
  readonly port: number;
  /** `http://127.0.0.1:PORT`. */
  readonly httpUrl: string;
  /** `ws://127.0.0.1:PORT/v1/sync`. */
  readonly wsUrl: string;
  /** SIGKILLs the process (by PID) and waits for it to exit. Idempotent. */
  kill(): Promise<void>;
}

/** Starts a relay child with `env` added to this process's environment; rejects when it does not come up. */
export async function startRelayChild(env: Record<string, string>, timeoutMs = 90_000, nodeArgs: string[] = []): Promise<RelayChild> {
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', CHILD], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`relay child did not start in ${timeoutMs} ms: ${stderr} ${out.slice(-2000)}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"port"'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`relay child exited (${code ?? signal}) before listening: ${stderr}`));
    });
  }).catch(async (err: unknown) => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    await exited;
    throw err;
  });
  let killed: Promise<void> | undefined;
  return {
    pid: child.pid!,
    port,
    httpUrl: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/v1/sync`,
    kill() {
      killed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(child.pid!, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        await exited;
      })();
      return killed;
    },
  };
}

async function postJson(url: string, body: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`POST ${url}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Creates an account over HTTP (sign-up must be allowed) and signs `devices` devices in. */
export async function signUpDevices(httpUrl: string, devices = 1): Promise<{ email: string; password: string; devices: Array<{ deviceId: string; token: string }> }> {
  const email = `${randomUUID()}@example.test`;
  const password = `pw-${randomUUID()}`;
  await postJson(`${httpUrl}/v1/users`, { email, password });
  const list = [];
  for (let i = 0; i < devices; i++) {
    const login = await postJson(`${httpUrl}/v1/auth/login`, { email, password, device: { name: `device ${i}` } });
    list.push({ deviceId: String(login.deviceId), token: String(login.accessToken) });
  }
  return { email, password, devices: list };
}
