/**
 * The Node end of the step driver: an HTTP server on 127.0.0.1 that hands steps to extension
 * hosts running `driver.host-test` and returns their outcomes, so tests written on the Node side
 * act inside real hosts (one host per code-server, kept for the whole test file).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

type Outcome = { id: number; value?: unknown; error?: { message: string; code?: string } };

interface Pending {
  id: number;
  action: string;
  args: unknown[];
  resolve(value: unknown): void;
  reject(error: Error): void;
}

class HostChannel {
  readonly queue: Pending[] = [];
  inFlight: Pending | undefined;
  waiting: ServerResponse | undefined;
  done = false;
  ready: Promise<void>;
  markReady!: () => void;

  constructor() {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }
}

export class HostDriver {
  private server: Server | undefined;
  private readonly channels = new Map<string, HostChannel>();
  private nextId = 1;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private channel(name: string): HostChannel {
    let channel = this.channels.get(name);
    if (!channel) this.channels.set(name, (channel = new HostChannel()));
    return channel;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const match = /^\/host\/([^/]+)$/.exec(req.url ?? '');
    if (!match || req.method !== 'POST') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Outcome | { ready: true };
    const channel = this.channel(decodeURIComponent(match[1]!));
    if ('ready' in body) channel.markReady();
    else if (channel.inFlight && channel.inFlight.id === body.id) {
      const done = channel.inFlight;
      channel.inFlight = undefined;
      if (body.error) done.reject(Object.assign(new Error(`in host: ${body.error.message}`), body.error.code ? { code: body.error.code } : {}));
      else done.resolve(body.value);
    }
    channel.waiting = res;
    this.dispatch(channel);
  }

  private dispatch(channel: HostChannel): void {
    const res = channel.waiting;
    if (!res) return;
    if (channel.done && channel.queue.length === 0) {
      channel.waiting = undefined;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ done: true }));
      return;
    }
    const next = channel.queue.shift();
    if (!next) return;
    channel.waiting = undefined;
    channel.inFlight = next;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: next.id, action: next.action, args: next.args }));
  }

  /** Resolves once the host named `name` asked for its first step. */
  ready(name: string): Promise<void> {
    return this.channel(name).ready;
  }

  /** Runs `action` in host `name`; resolves to its value, rejects with its error (code kept). */
  call<T = unknown>(name: string, action: string, ...args: unknown[]): Promise<T> {
    const channel = this.channel(name);
    return new Promise<T>((resolve, reject) => {
      channel.queue.push({ id: this.nextId++, action, args, resolve: resolve as (v: unknown) => void, reject });
      this.dispatch(channel);
    });
  }

  /** Tells host `name` to finish its suite. */
  finish(name: string): void {
    const channel = this.channel(name);
    channel.done = true;
    this.dispatch(channel);
  }

  async close(): Promise<void> {
    for (const name of this.channels.keys()) this.finish(name);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.server?.closeAllConnections();
  }
}
