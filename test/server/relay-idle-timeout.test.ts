/**
 * HTTP_IDLE_TIMEOUT_MS: an HTTP request whose client stops sending ends with 408
 * HTTP_IDLE_TIMEOUT and a closed socket. Regression: `requestTimeout = 0` and `server.timeout`
 * 0 let a client that announced a body and sent one byte hold the socket forever. A WebSocket
 * idle for longer, and a slow request body that keeps coming, are not cut.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { loadRelayConfig } from '../../server/config/load-config';
import { migrate } from '../../server/db/migrator';
import type { PgliteDatabase } from '../../server/db/pglite-database';
import { silentLogger } from '../../server/observability/logger';
import { startRelayServer, type RelayServer } from '../../server/relay-server';
import { openTestPglite } from '../support/pglite';

const IDLE_MS = 300;

interface RawAnswer {
  /** Everything the relay sent before it closed the socket. */
  text: string;
  status: number | undefined;
  /** ms from the last byte written to the close. */
  closedAfterMs: number;
}

/** Opens a raw TCP connection, writes `head`, then each chunk of `body` every `everyMs`; resolves when the relay closes it. */
function rawExchange(port: number, head: string, body: string[], everyMs = 0): { socket: Socket; answer: Promise<RawAnswer> } {
  const socket = connect(port, '127.0.0.1');
  let text = '';
  let lastWrite = Date.now();
  socket.setEncoding('utf8').on('data', (chunk: string) => { text += chunk; });
  const write = (data: string): void => {
    lastWrite = Date.now();
    socket.write(data);
  };
  let pacer: NodeJS.Timeout | undefined;
  socket.once('connect', () => {
    write(head);
    const rest = [...body];
    if (everyMs === 0) {
      for (const chunk of rest) write(chunk);
      return;
    }
    pacer = setInterval(() => {
      const chunk = rest.shift();
      if (chunk === undefined) clearInterval(pacer);
      else write(chunk);
    }, everyMs);
  });
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    // A deadline for the close event (the regression kept the socket open for ever), not a sleep.
    const deadline = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the relay kept the socket open ${IDLE_MS * 20} ms; received: ${JSON.stringify(text)}`));
    }, IDLE_MS * 20);
    socket.once('close', () => {
      clearTimeout(deadline);
      clearInterval(pacer);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      resolve({ text, status: status === undefined ? undefined : Number(status), closedAfterMs: Date.now() - lastWrite });
    });
    socket.on('error', () => undefined);
  });
  return { socket, answer };
}

function loginHead(contentLength: number): string {
  return `POST /v1/auth/login HTTP/1.1\r\nHost: relay\r\nContent-Type: application/json\r\nContent-Length: ${contentLength}\r\nConnection: close\r\n\r\n`;
}

describe('relay HTTP idle timeout', function () {
  this.timeout(60_000);
  let db: PgliteDatabase;
  let relay: RelayServer;

  before(async () => {
    db = await openTestPglite();
    await migrate(db);
    const config = loadRelayConfig({
      env: {},
      flags: { port: 0, logLevel: 'silent', httpIdleTimeoutMs: IDLE_MS, wsHelloTimeoutMs: 60_000, compactionIntervalSeconds: 0 },
    });
    relay = await startRelayServer(config, { db, logger: silentLogger });
  });
  after(async () => {
    await relay?.close();
    await db?.close();
  });

  it('answers 408 HTTP_IDLE_TIMEOUT and closes a request whose body stalls (regression: the socket was held for ever)', async () => {
    const { answer } = rawExchange(relay.port, loginHead(100), ['{']);
    const { status, text, closedAfterMs } = await answer;
    assert.equal(status, 408, text);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
    assert.equal(body.error.code, 'HTTP_IDLE_TIMEOUT');
    assert.ok(closedAfterMs >= IDLE_MS - 50, `closed after ${closedAfterMs} ms, before the idle timeout`);
  });

  it('closes a connection that sends half a request head and then nothing', async () => {
    const { answer } = rawExchange(relay.port, 'POST /v1/auth/login HTTP/1.1\r\nHost: rel', []);
    const { status } = await answer;
    assert.notEqual(status, 200);
  });

  it('lets a slow body through that keeps sending, for longer than the idle timeout in total', async () => {
    const json = JSON.stringify({ email: 'nobody@example.com', password: 'not the password' });
    const chunks = json.match(/.{1,4}/g)!; // ~12 chunks, one every IDLE_MS / 3: about 4 idle timeouts in total
    const { answer } = rawExchange(relay.port, loginHead(Buffer.byteLength(json)), chunks, IDLE_MS / 3);
    const started = Date.now();
    const { status, text } = await answer;
    assert.ok(Date.now() - started > IDLE_MS * 2, 'the upload outlasted the idle timeout');
    assert.equal(status, 401, text);
    assert.match(text, /AUTH_INVALID_CREDENTIALS/);
  });

  it('keeps a WebSocket open that is idle for longer than the idle timeout', async () => {
    const ws = new WebSocket(`${relay.url.replace('http', 'ws')}/v1/sync`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    let closed = false;
    let heard = 0;
    ws.once('close', () => { closed = true; });
    ws.on('message', () => { heard++; });
    ws.on('ping', () => { heard++; });
    // A stalled HTTP request opened after the WebSocket fell silent times out first: when it is
    // cut, the WebSocket has been idle for at least the idle timeout too.
    const { status } = await rawExchange(relay.port, loginHead(100), ['{']).answer;
    assert.equal(status, 408);
    assert.equal(closed, false, 'the WebSocket was not closed');
    assert.equal(ws.readyState, WebSocket.OPEN);
    assert.equal(heard, 0, 'nothing crossed the WebSocket meanwhile: it really was idle');
    const pong = new Promise<void>((resolve) => ws.once('pong', () => resolve()));
    ws.ping();
    await pong;
    const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    ws.close();
    await done;
  });
});
