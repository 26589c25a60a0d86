/**
 * Peer side of `npm run bench -- socket-cost` (test/bench/socket-cost.bench.ts), in its own
 * process: opens `count` WebSocket connections to the port in argv, either as `ws` clients (a
 * 'message' listener, what BenchWsClient does) or as raw sockets reading through `net`'s
 * `onread` into one shared buffer without parsing frames (what BenchSinkClient does after its
 * welcome). Prints `READY`; then for each `start` line resets its counters and for each `stop`
 * line prints `{"frames":N,"cpuUs":N}` (its CPU, user + system, since `start`).
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';

async function main(): Promise<void> {
  const [kind, portText, countText] = process.argv.slice(2);
  const port = Number(portText);
  const count = Number(countText);
  const shared = Buffer.allocUnsafe(64 * 1024);
  let frames = 0;
  let open = 0;
  const ready = new Promise<void>((resolve) => {
    const opened = (): void => {
      if (++open === count) resolve();
    };
    void (async () => {
      for (let i = 0; i < count; i++) {
        if (kind === 'ws') {
          const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
          client.binaryType = 'nodebuffer';
          client.on('message', () => frames++);
          client.once('open', opened);
        } else {
          let upgraded = false;
          const socket = connect({
            host: '127.0.0.1',
            port,
            onread: {
              buffer: shared,
              callback: (bytesRead: number, buffer: Uint8Array) => {
                // The first read is the upgrade reply; every later one is a frame (one per round and socket).
                if (upgraded) frames++;
                else if (Buffer.from(buffer.subarray(0, 12)).toString('latin1') === 'HTTP/1.1 101') {
                  upgraded = true;
                  opened();
                } else {
                  throw new Error(`upgrade refused: ${Buffer.from(buffer.subarray(0, bytesRead)).toString('latin1').split('\r\n')[0]}`);
                }
                return true;
              },
            },
          });
          socket.once('connect', () =>
            socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`),
          );
        }
        if (i % 200 === 199) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
  });
  await ready;
  let cpu0 = process.cpuUsage();
  process.stdout.write('READY\n');
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'start') {
      frames = 0;
      cpu0 = process.cpuUsage();
    } else if (line === 'stop') {
      const cpu = process.cpuUsage(cpu0);
      process.stdout.write(`${JSON.stringify({ frames, cpuUs: cpu.user + cpu.system })}\n`);
    } else if (line === 'exit') {
      process.exit(0);
    }
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`socket-cost child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
