/**
 * The fault proxy the fault suite and the Syncthing comparison put between peers: it forwards
 * and counts bytes, delays by its latency, skips a dead upstream, and its blackhole, partition
 * and reset faults do what they say on real sockets.
 */
import assert from 'node:assert/strict';
import { createServer, Socket, type AddressInfo, type Server } from 'node:net';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { freePort } from '../support/free-port';

/** An echo server that prefixes each reply with its name. */
async function echoServer(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.on('data', (d) => socket.write(`${name}:${d.toString()}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Connects, sends `text`, resolves with the first reply, or with an event name. */
function exchange(port: number, text: string, waitMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, waitMs);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code ?? 'error');
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
    socket.connect(port, '127.0.0.1', () => socket.write(text));
    socket.once('data', (d) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(d.toString());
    });
  });
}

/** Resolves when the proxy has connected the accepted socket to its upstream. */
async function pairOpen(proxy: FaultProxy): Promise<void> {
  while (proxy.connections().open === 0) await new Promise((resolve) => setImmediate(resolve));
}

describe('FaultProxy', function () {
  this.timeout(20_000);
  const servers: Server[] = [];
  let proxy: FaultProxy | undefined;

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('forwards both ways and counts the bytes each way', async () => {
    const a = await echoServer('a');
    servers.push(a.server);
    proxy = await startFaultProxy([{ host: '127.0.0.1', port: a.port }]);
    assert.equal(await exchange(proxy.port, 'hello'), 'a:hello');
    assert.deepEqual(proxy.bytes, { up: 5, down: 7 });
  });

  it('round-robins over upstreams and skips one that refuses connections', async () => {
    const a = await echoServer('a');
    const b = await echoServer('b');
    servers.push(a.server, b.server);
    const dead = await freePort();
    proxy = await startFaultProxy([{ host: '127.0.0.1', port: a.port }, { host: '127.0.0.1', port: dead }, { host: '127.0.0.1', port: b.port }]);
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await exchange(proxy.port, 'x'));
    assert.deepEqual(new Set(replies), new Set(['a:x', 'b:x']));
  });

  it('delays traffic by its latency', async () => {
    const a = await echoServer('a');
    servers.push(a.server);
    proxy = await startFaultProxy([{ host: '127.0.0.1', port: a.port }]);
    proxy.set({ latencyMs: 150 });
    const started = Date.now();
    assert.equal(await exchange(proxy.port, 'slow'), 'a:slow');
    assert.ok(Date.now() - started >= 290, `round trip took ${Date.now() - started} ms`);
  });

  it('drops one direction in a blackhole while the connection stays open', async () => {
    const a = await echoServer('a');
    servers.push(a.server);
    proxy = await startFaultProxy([{ host: '127.0.0.1', port: a.port }]);
    proxy.set({ blackhole: 'down' });
    assert.equal(await exchange(proxy.port, 'lost', 300), 'timeout');
    assert.equal(proxy.bytes.down, 0);
    assert.equal(proxy.bytes.up, 4);
    proxy.set({ blackhole: null });
    assert.equal(await exchange(proxy.port, 'back'), 'a:back');
  });

  it('holds new connections during a partition, resets the ones that lived through it, then heals', async () => {
    const a = await echoServer('a');
    servers.push(a.server);
    proxy = await startFaultProxy([{ host: '127.0.0.1', port: a.port }]);
    const open = new Socket();
    const reset = new Promise<string>((resolve) => open.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error')));
    await new Promise<void>((resolve) => open.connect(proxy!.port, '127.0.0.1', () => resolve()));
    await pairOpen(proxy);
    const healed = proxy.partition(400);
    const during = exchange(proxy.port, 'wait', 3000);
    const started = Date.now();
    await healed;
    assert.equal(await reset, 'ECONNRESET');
    assert.equal(await during, 'a:wait');
    assert.ok(Date.now() - started >= 350);
  });

  it('resets open connections and refuses the share of new ones it is told to drop', async () => {
    const a = await echoServer('a');
    servers.push(a.server);
    proxy = await startFaultProxy([{ host: '127.0.0.1', port: a.port }]);
    proxy.set({ dropNewRate: 1 });
    assert.match(await exchange(proxy.port, 'x'), /ECONNRESET|closed/);
    proxy.set({ dropNewRate: 0 });
    const socket = new Socket();
    const ended = new Promise<string>((resolve) => socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error')));
    await new Promise<void>((resolve) => socket.connect(proxy!.port, '127.0.0.1', () => resolve()));
    await pairOpen(proxy);
    assert.equal(proxy.resetAll(), 1);
    assert.equal(await ended, 'ECONNRESET');
  });
});
