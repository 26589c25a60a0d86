/** readJsonBody (server/http/request-body.ts) against real requests on a node:http server. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { isSyncError } from '../../../core/errors';
import { readJsonBody } from '../../../server/http/request-body';

describe('readJsonBody', () => {
  let server: Server;
  let port: number;
  let outcome: Promise<unknown>;

  beforeEach(async () => {
    let settle!: (value: unknown) => void;
    outcome = new Promise((resolve) => (settle = resolve));
    server = createServer((req, res) => {
      readJsonBody(req, 1024).then(
        (body) => {
          settle({ body });
          res.end('{}');
        },
        (error: unknown) => {
          settle({ error });
          res.destroy();
        },
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Sends the request head and `body`, then calls `after` with the socket. */
  async function send(head: string, body: string, after: (socket: ReturnType<typeof connect>) => void): Promise<void> {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`${head}\r\n\r\n${body}`);
    after(socket);
  }

  it('parses a whole body', async () => {
    await send('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8', '{"a":12}', () => undefined);
    assert.deepEqual(await outcome, { body: { a: 12 } });
  });

  it('is REQUEST_ABORTED, not an internal error, when the client goes away mid-body', async () => {
    await send('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100', '{"a":', (socket) => {
      // Wait until the server has the first bytes, then drop the connection.
      setImmediate(() => socket.destroy());
    });
    const { error } = (await outcome) as { error: unknown };
    assert.ok(isSyncError(error, 'REQUEST_ABORTED'), `got ${String(error)}`);
  });
});
