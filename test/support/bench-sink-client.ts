/**
 * A device of the load bench that nobody times (test/support/bench-load-child.ts): it connects
 * and authenticates like any device (WebSocket upgrade, hello, welcome), then takes every byte
 * the relay sends it off the socket without parsing frames, so the load generator, which holds
 * thousands of these in one process beside the timed devices, spends little CPU on them.
 *
 * The socket reads through `net`'s `onread` (one buffer shared by every sink, no stream, no
 * allocation per read): the relay's frames still cross the relay's socket, the kernel and this
 * process's read, which is the work a real device's connection puts on the machine; only the
 * frame parsing and decoding a real device would also do are left out. The handshake's reply
 * and the welcome are parsed (the device must be accepted before it counts as connected).
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { encodeHelloFrame, FrameCodec } from '../../core/protocol/frame';
import type { DeviceId } from '../../core/ids';
import type { ServerMessage } from '../../core/protocol/messages';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** Every sink reads into this: what is read is dropped before the next read. */
const SHARED_READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

/** One masked client frame (RFC 6455 5.2; a client must mask): opcode 2 binary, 8 close. */
function clientFrame(opcode: number, payload: Uint8Array): Buffer {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + length);
  frame[0] = 0x80 | opcode;
  frame[1] = 0x80 | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) frame.writeUInt16BE(length, 2);
  if (lengthBytes === 8) frame.writeBigUInt64BE(BigInt(length), 2);
  const maskAt = 2 + lengthBytes;
  randomBytes(4).copy(frame, maskAt);
  for (let i = 0; i < length; i++) frame[maskAt + 4 + i] = payload[i]! ^ frame[maskAt + (i & 3)]!;
  return frame;
}

export class BenchSinkClient {
  /** Bytes received after the welcome (frames not parsed). */
  bytesReceived = 0;
  readonly closed: Promise<void>;

  private constructor(private readonly socket: Socket, closed: Promise<void>) {
    this.closed = closed;
  }

  /** Connects to `url` (ws://host:port/path), says hello and resolves after the welcome. */
  static connect(url: string, device: { deviceId: string; token: string }): Promise<BenchSinkClient> {
    const { hostname, port, pathname } = new URL(url);
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
    return new Promise((resolve, reject) => {
      // Before the welcome: the bytes so far (the upgrade reply, then the first frame).
      let pending = Buffer.alloc(0);
      let upgraded = false;
      let client: BenchSinkClient | undefined;
      const fail = (message: string): void => {
        socket.destroy();
        reject(new Error(message));
      };
      const onBytes = (bytes: Buffer): void => {
        pending = Buffer.concat([pending, bytes]);
        if (!upgraded) {
          const end = pending.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = pending.subarray(0, end).toString('latin1');
          if (!head.startsWith('HTTP/1.1 101') || !head.includes(`\r\nSec-WebSocket-Accept: ${accept}`)) return fail(`no upgrade: ${head.split('\r\n')[0]}`);
          upgraded = true;
          pending = pending.subarray(end + 4);
          socket.write(clientFrame(2, encodeHelloFrame({ type: 'hello', protocolVersions: [1], codecs: ['none'], token: device.token, deviceId: device.deviceId as DeviceId, cursor: 0 })));
        }
        // The welcome: one unmasked frame with a 7- or 16-bit length.
        if (pending.length < 2) return;
        const short = pending[1]! & 0x7f;
        const headerBytes = short === 126 ? 4 : 2;
        if (short === 127 || pending.length < headerBytes) return fail('welcome frame too large');
        const length = short === 126 ? pending.readUInt16BE(2) : short;
        if (pending.length < headerBytes + length) return;
        const welcome = new FrameCodec({ codec: 'none' }).decode(pending.subarray(headerBytes, headerBytes + length)) as ServerMessage;
        if (welcome.type !== 'welcome') return fail(`no welcome: ${JSON.stringify(welcome).slice(0, 200)}`);
        client = new BenchSinkClient(socket, closed);
        client.bytesReceived = pending.length - headerBytes - length;
        resolve(client);
      };
      const socket = connect({
        host: hostname,
        port: Number(port),
        onread: {
          buffer: SHARED_READ_BUFFER,
          callback: (bytesRead: number, buffer: Uint8Array) => {
            if (client) client.bytesReceived += bytesRead;
            else onBytes(Buffer.from(buffer.subarray(0, bytesRead)));
            return true;
          },
        },
      });
      const closed = new Promise<void>((done) => socket.once('close', () => done()));
      socket.setNoDelay(true);
      socket.once('error', (err) => {
        if (!client) reject(err);
      });
      socket.once('close', () => {
        if (!client) reject(new Error('closed before the welcome'));
      });
      socket.once('connect', () => {
        socket.write(
          `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
    });
  }

  /** Sends a close frame (1000) and ends the socket; resolves once it is closed. */
  close(): Promise<void> {
    const code = Buffer.alloc(2);
    code.writeUInt16BE(1000);
    this.socket.end(clientFrame(8, code));
    return this.closed;
  }
}
