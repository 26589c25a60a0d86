/**
 * A lean sync client for relay benchmarks: frames through FrameCodec (every codec a Node peer
 * has), replies matched to requests by id in a map, no validation of what the relay sends, so
 * the client's own cost stays small next to the relay's.
 */
import WebSocket from 'ws';
import { FrameCodec } from '../../core/protocol/frame';
import type { CodecName, ServerMessage } from '../../core/protocol/messages';
import { nodeCodecRegistry } from '../../core/node/protocol/node-codecs';

/** A request encoded ahead of sending (BenchWsClient.prepare). */
export interface PreparedRequest {
  id: string;
  frame: Uint8Array;
}

export class BenchWsClient {
  private readonly frames = new FrameCodec({ codec: 'none', codecs: nodeCodecRegistry() });
  private readonly pending = new Map<string, (message: ServerMessage) => void>();
  private nextId = 0;
  /**
   * False: while no request of this client waits for its reply, frames are received but not
   * decoded (nor given to `onPush`). A load generator holding thousands of devices in one
   * process sets it on the devices it does not measure, so its own CPU does not delay what it
   * measures; their frames still cross the relay and the socket.
   */
  decodePushes = true;
  /** Called with every message that is not a reply (live changes, presence, commands). */
  onPush: (message: ServerMessage) => void = () => undefined;
  readonly closed: Promise<number>;

  private constructor(private readonly socket: WebSocket) {
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data: Buffer) => {
      // A device nobody measures takes its frames without decoding them (see `decodePushes`).
      if (!this.decodePushes && this.pending.size === 0) return;
      const message = this.frames.decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)) as ServerMessage;
      const replyTo = (message as { replyTo?: string }).replyTo;
      const waiter = replyTo === undefined ? undefined : this.pending.get(replyTo);
      if (waiter) {
        this.pending.delete(replyTo!);
        waiter(message);
      } else {
        this.onPush(message);
      }
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.on('close', (code) => {
      for (const waiter of this.pending.values()) waiter({ type: 'error', code: 'CLOSED', message: `closed ${code}` });
      this.pending.clear();
      resolve(code);
    }));
  }

  /** Connects, says hello and resolves after the welcome. */
  static async connect(url: string, device: { deviceId: string; token: string }, codecs: CodecName[] = ['brotli', 'deflate', 'none']): Promise<BenchWsClient> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const client = new BenchWsClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const welcome = await new Promise<ServerMessage>((resolve) => {
      client.onPush = resolve;
      socket.send(client.frames.encode({ type: 'hello', protocolVersions: [1], codecs, token: device.token, deviceId: device.deviceId as never, cursor: 0 }));
    });
    client.onPush = () => undefined;
    if (welcome.type !== 'welcome') throw new Error(`no welcome: ${JSON.stringify(welcome).slice(0, 200)}`);
    client.frames.setCodec(welcome.codec);
    return client;
  }

  /** Sends a request and resolves with its reply. */
  request(message: Record<string, unknown>): Promise<ServerMessage> {
    return this.sendPrepared(this.prepare(message));
  }

  /**
   * Encodes a request now, to be sent later with `sendPrepared`, in the order prepared (frames
   * share the connection's compression context): a benchmark can do its devices' encoding
   * before the measured window.
   */
  prepare(message: Record<string, unknown>): PreparedRequest {
    const id = `r${++this.nextId}`;
    return { id, frame: this.frames.encode({ ...message, id } as never) };
  }

  /** Sends a prepared request and resolves with its reply. */
  sendPrepared(request: PreparedRequest): Promise<ServerMessage> {
    return new Promise((resolve) => {
      this.pending.set(request.id, resolve);
      this.socket.send(request.frame);
    });
  }

  close(): Promise<number> {
    this.socket.close(1000);
    return this.closed;
  }
}
