/**
 * A fault-injecting TCP proxy on 127.0.0.1 between devices and relays, for the fault suite and
 * the Syncthing comparison. Each accepted connection is forwarded to one of the upstreams (round
 * robin, skipping one that refuses: a load balancer in front of several relay processes). Faults
 * are switched on and off while it runs:
 * - `latencyMs` / `jitterMs`: every chunk is delayed (order kept) by latency + random jitter;
 * - `dropNewRate`: that share of new connections is closed at once;
 * - `resetAll()`: every open connection is reset (RST), as when a NAT or a relay forgets it;
 * - `partition(ms)`: nothing passes either way and new connections hang for `ms`, then every
 *   connection that lived through it is reset and traffic flows again;
 * - `blackhole('up' | 'down' | null)`: bytes one way are silently dropped (the socket stays up).
 * It counts the bytes it forwards each way (`bytes`), which is how the benches measure bytes on
 * the wire for roo-sync and Syncthing alike.
 */
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';

export interface Upstream {
  host: string;
  port: number;
}

export interface FaultSettings {
  latencyMs: number;
  jitterMs: number;
  dropNewRate: number;
  blackhole: 'up' | 'down' | 'both' | null;
}

export interface FaultProxy {
  readonly port: number;
  readonly url: string;
  /** Bytes forwarded client -> upstream (`up`) and upstream -> client (`down`) so far. */
  readonly bytes: { up: number; down: number };
  readonly settings: FaultSettings;
  /** Connections accepted so far and open now. */
  connections(): { accepted: number; open: number };
  set(settings: Partial<FaultSettings>): void;
  /** Replaces the upstreams (new connections only). */
  setUpstreams(upstreams: Upstream[]): void;
  resetAll(): number;
  /** Cuts every connection off for `ms` (see above); resolves when it heals. */
  partition(ms: number): Promise<void>;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

export async function startFaultProxy(initial: Upstream[], options: { seed?: number } = {}): Promise<FaultProxy> {
  let upstreams = [...initial];
  let next = 0;
  const settings: FaultSettings = { latencyMs: 0, jitterMs: 0, dropNewRate: 0, blackhole: null };
  const bytes = { up: 0, down: 0 };
  const pairs = new Set<Pair>();
  let accepted = 0;
  let partitioned: Promise<void> | null = null;
  let rng = options.seed ?? 1;
  const random = (): number => {
    rng = (rng * 1103515245 + 12345) & 0x7fffffff;
    return rng / 0x7fffffff;
  };

  /** Forwards `from` -> `to` with the current delay and blackhole, counting bytes. */
  function pipe(from: Socket, to: Socket, way: 'up' | 'down'): void {
    let lastDue = 0;
    from.on('data', (chunk: Buffer) => {
      if (settings.blackhole === way || settings.blackhole === 'both') return;
      const delay = settings.latencyMs + (settings.jitterMs ? random() * settings.jitterMs : 0);
      const send = (): void => {
        if (to.destroyed) return;
        bytes[way] += chunk.length;
        to.write(chunk);
      };
      if (delay <= 0 && lastDue <= Date.now()) {
        send();
        return;
      }
      const due = Math.max(lastDue, Date.now() + delay);
      lastDue = due;
      setTimeout(send, due - Date.now());
    });
    from.on('end', () => {
      const wait = Math.max(0, lastDue - Date.now());
      setTimeout(() => to.end(), wait);
    });
  }

  function connectUpstream(attempt: number, onReady: (socket: Socket) => void, onFail: () => void): void {
    if (attempt >= upstreams.length || upstreams.length === 0) {
      onFail();
      return;
    }
    const target = upstreams[next++ % upstreams.length]!;
    const socket = new Socket();
    socket.once('error', () => {
      socket.destroy();
      connectUpstream(attempt + 1, onReady, onFail);
    });
    socket.connect(target.port, target.host, () => {
      socket.removeAllListeners('error');
      onReady(socket);
    });
  }

  const server: Server = createServer((client) => {
    accepted++;
    client.on('error', () => undefined);
    if (settings.dropNewRate > 0 && random() < settings.dropNewRate) {
      client.resetAndDestroy();
      return;
    }
    client.pause();
    const begin = (): void => {
      if (client.destroyed) return;
      connectUpstream(0, (upstream) => {
        upstream.on('error', () => undefined);
        if (client.destroyed) {
          upstream.destroy();
          return;
        }
        const pair = { client, upstream };
        pairs.add(pair);
        const drop = (): void => {
          if (!pairs.delete(pair)) return;
          if (!client.destroyed) client.destroy();
          if (!upstream.destroyed) upstream.destroy();
        };
        client.once('close', drop);
        upstream.once('close', drop);
        pipe(client, upstream, 'up');
        pipe(upstream, client, 'down');
        client.resume();
      }, () => client.resetAndDestroy());
    };
    if (partitioned) void partitioned.then(begin);
    else begin();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const resetAll = (): number => {
    const open = [...pairs];
    pairs.clear();
    for (const { client, upstream } of open) {
      if (!client.destroyed) client.resetAndDestroy();
      if (!upstream.destroyed) upstream.resetAndDestroy();
    }
    return open.length;
  };

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    bytes,
    settings,
    connections: () => ({ accepted, open: pairs.size }),
    set(change) {
      Object.assign(settings, change);
    },
    setUpstreams(list) {
      upstreams = [...list];
    },
    resetAll,
    partition(ms) {
      if (partitioned) return partitioned;
      const before = settings.blackhole;
      settings.blackhole = 'both';
      partitioned = new Promise<void>((resolve) => {
        setTimeout(() => {
          settings.blackhole = before;
          resetAll();
          partitioned = null;
          resolve();
        }, ms).unref();
      });
      return partitioned;
    },
    async close() {
      resetAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
