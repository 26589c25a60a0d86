/**
 * A minimal protocol client for the conformance suite: raw binary frames over a real `ws`
 * socket, with no reconnect or correlation logic of its own, so tests can send exactly what
 * they mean (including broken frames) and wait for exactly what they expect.
 */
import WebSocket from 'ws';
import { FrameCodec } from '../../core/protocol/frame';
import { nodeCodecRegistry } from '../../core/node/protocol/node-codecs';
import type { ClientMessage, CodecName, ServerMessage } from '../../core/protocol/messages';
import { parseServerMessage } from '../../core/protocol/validate';

export interface CloseInfo {
  code: number;
  reason: string;
}

/** Waits at most this long for any one expected event. */
export const WAIT_MS = 5000;

export class RawWsClient {
  /** Every message received, in order (each validated with parseServerMessage). */
  readonly received: ServerMessage[] = [];
  /** Frames that did not decode or validate: a conformance failure, asserted empty by tests. */
  readonly undecodable: string[] = [];
  /** Resolves when the socket closes. */
  readonly closed: Promise<CloseInfo>;
  /** One per connection, both directions: it keeps the compression context. */
  private readonly frames = new FrameCodec({
    codec: 'none',
    codecs: nodeCodecRegistry(),
    maxFrameBytes: 64 * 1024 * 1024,
    maxInflatedBytes: 256 * 1024 * 1024,
  });
  private waiters: Array<() => void> = [];
  private nextId = 1;
  closeInfo: CloseInfo | null = null;

  private constructor(private readonly socket: WebSocket) {
    socket.binaryType = 'nodebuffer';
    socket.on('message', (data: Buffer) => {
      try {
        this.received.push(parseServerMessage(this.frames.decode(new Uint8Array(data))));
      } catch (error) {
        this.undecodable.push(String(error));
      }
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        this.closeInfo = { code, reason: reason.toString() };
        this.wake();
        resolve(this.closeInfo);
      });
    });
    socket.on('error', () => undefined);
  }

  /** Opens a socket (no hello yet). */
  static async open(url: string): Promise<RawWsClient> {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    const client = new RawWsClient(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return client;
  }

  /** A fresh request id. */
  id(): string {
    return `req-${this.nextId++}`;
  }

  /** Encodes later frames with this codec (after a welcome chose it). */
  useCodec(codec: CodecName): void {
    this.frames.setCodec(codec);
  }

  /** Sends one message through the frame codec. */
  send(message: unknown): void {
    this.socket.send(this.frames.encode(message as ClientMessage));
  }

  /** Sends raw bytes as one binary frame. */
  sendBytes(bytes: Uint8Array): void {
    this.socket.send(bytes);
  }

  /** Sends a text frame (the protocol speaks binary only). */
  sendText(text: string): void {
    this.socket.send(text);
  }

  /** Sends a request with a fresh id and waits for the reply naming it. */
  async request(message: Record<string, unknown>): Promise<ServerMessage> {
    const id = this.id();
    this.send({ ...message, id });
    return this.waitFor((m) => 'replyTo' in m && m.replyTo === id, `reply to ${String(message.type)} ${id}`);
  }

  /**
   * Waits for the first message received from `from` on (an index into `received`) that
   * matches; rejects after `timeoutMs` or when the socket closes first.
   */
  async waitFor(predicate: (m: ServerMessage) => boolean, what: string, timeoutMs = WAIT_MS, from = 0): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.slice(from).find(predicate);
      if (found) return found;
      if (this.closeInfo) throw new Error(`closed (${this.closeInfo.code}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received.map((m) => m.type))}`);
      await this.sleepUntilEvent(left);
    }
  }

  /** Waits for the socket to close (rejects after `timeoutMs`). */
  async waitClosed(timeoutMs = WAIT_MS): Promise<CloseInfo> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out waiting for the socket to close')), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the socket from this side and waits for it to be closed. */
  async close(): Promise<void> {
    if (this.closeInfo) return;
    this.socket.close(1000, 'done');
    await this.waitClosed().catch(() => this.socket.terminate());
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private sleepUntilEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
