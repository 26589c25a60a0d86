/**
 * Serves a ReferenceRelay over a real WebSocket server (`ws`) at `/v1/sync`, so the core,
 * the RooCloudClient and the conformance suite meet a relay on the wire.
 *
 * Per connection: binary frames only; each frame is size-checked, decoded by its own
 * FrameCodec (one per connection: it keeps the compression context; the inflated size is
 * capped) and handed to the relay as a plain value; the relay validates it. Replies use codec
 * `none` until the welcome has chosen one. A frame that does not decode gets a coded `error`
 * frame and a close (ProtocolError, or FrameTooLarge for size), since the compression contexts
 * may be out of step after it; a text frame gets an error and the connection goes on. No frame
 * can crash the process.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { isSyncError } from '../../errors';
import { CloseCode } from '../../protocol/close-codes';
import { decodeHelloFrame, FrameCodec } from '../../protocol/frame';
import type { CodecName, ServerMessage } from '../../protocol/messages';
import type { ReferenceRelay, RelayConnection } from '../../relay/reference-relay';
import { nodeCodecRegistry } from '../protocol/node-codecs';

export interface WsRelayHostOptions {
  relay: ReferenceRelay;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). Pass a port to restart a host where clients expect it. */
  port?: number;
  /** Default `/v1/sync`. */
  path?: string;
  /** Largest frame accepted; a larger one closes with FrameTooLarge. Default 16 MiB. */
  maxFrameBytes?: number;
  /** Largest inflated frame body; a larger one is an error and closes with FrameTooLarge. Default 64 MiB. */
  maxInflatedBytes?: number;
  /** Codecs offered to devices, in order of preference. Default brotli, deflate, none. */
  codecs?: readonly CodecName[];
  /** Bodies at least this large are compressed. Default: FrameCodec's. */
  compressThreshold?: number;
}

/** Error codes the host sends in `error` frames. */
export const HostErrorCode = {
  /** A text frame: the protocol speaks binary frames only. */
  TextFrame: 'PROTOCOL_TEXT_FRAME',
  /** A reply that would not fit in one frame (e.g. a pull page: ask for fewer changes). */
  ReplyTooLarge: 'RELAY_REPLY_TOO_LARGE',
  /** A frame over `maxFrameBytes` (sent as the close reason). */
  FrameTooLarge: 'PROTOCOL_FRAME_TOO_LARGE',
} as const;

const DEFAULT_MAX_FRAME = 16 * 1024 * 1024;
const DEFAULT_MAX_INFLATED = 64 * 1024 * 1024;

export class WsRelayHost {
  private closing?: Promise<void>;
  private readonly sockets = new Set<WebSocket>();

  private constructor(
    private readonly options: WsRelayHostOptions,
    private readonly server: Server,
    private readonly wss: WebSocketServer,
    /** The port the host listens on. */
    readonly port: number,
  ) {}

  /** `ws://host:port/v1/sync`. */
  get url(): string {
    return `ws://${this.options.host ?? '127.0.0.1'}:${this.port}${this.options.path ?? '/v1/sync'}`;
  }

  /** Starts listening; resolves once the port is bound. */
  static async start(options: WsRelayHostOptions): Promise<WsRelayHost> {
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME;
    const server = createServer((_req, res) => {
      res.writeHead(404).end();
    });
    // ws refuses (1009) only frames far past our limit; we close just-too-large ones with 4413 ourselves.
    const wss = new WebSocketServer({
      server,
      path: options.path ?? '/v1/sync',
      maxPayload: maxFrameBytes * 2 + 1024,
      perMessageDeflate: false,
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const host = new WsRelayHost(options, server, wss, (server.address() as AddressInfo).port);
    wss.on('connection', (socket) => host.accept(socket));
    wss.on('error', () => undefined);
    return host;
  }

  /** Closes every socket (GoingAway) and stops listening. Does not close the relay. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const socket of this.sockets) socket.close(CloseCode.GoingAway, 'host closing');
      await new Promise<void>((resolve) => this.wss.close(() => resolve()));
      // Sockets that do not finish the closing handshake promptly are cut.
      for (const socket of this.sockets) socket.terminate();
      this.server.closeAllConnections?.();
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    })();
    return this.closing;
  }

  private accept(socket: WebSocket): void {
    if (this.closing) {
      socket.close(CloseCode.GoingAway, 'host closing');
      return;
    }
    this.sockets.add(socket);
    const maxFrameBytes = this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME;
    const maxInflatedBytes = this.options.maxInflatedBytes ?? DEFAULT_MAX_INFLATED;
    const registry = nodeCodecRegistry();
    const offered = this.options.codecs ?? (['brotli', 'deflate', 'none'] as const);
    const frames = new FrameCodec({
      codec: 'none',
      codecs: registry,
      maxFrameBytes,
      maxInflatedBytes,
      ...(this.options.compressThreshold === undefined ? {} : { compressThreshold: this.options.compressThreshold }),
    });
    let helloSeen = false;
    let open = true;

    const sendRaw = (message: ServerMessage) => {
      if (!open || socket.readyState !== socket.OPEN) return;
      let frame: Uint8Array;
      try {
        frame = frames.encode(message);
      } catch {
        const stand = tooLargeStandIn(message);
        if (!stand) return;
        frame = frames.encode(stand);
      }
      socket.send(frame);
    };
    const closeSocket = (code: number, reason: string) => {
      if (!open) return;
      open = false;
      socket.close(code, reason.slice(0, 120));
    };

    const connection: RelayConnection = this.options.relay.connect(
      {
        send: (message) => {
          sendRaw(message);
          // The welcome goes out uncompressed; frames after it use the codec it names.
          if (message.type === 'welcome') frames.setCodec(message.codec);
        },
        close: closeSocket,
      },
      { codecs: offered.filter((name) => registry.get(name) !== undefined) },
    );
    const refuse = (code: string, text: string, closeCode: number) => {
      sendRaw({ type: 'error', code, message: text });
      connection.closed();
      closeSocket(closeCode, code);
    };

    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (!open) return;
      const bytes = toBytes(data);
      if (bytes.length > maxFrameBytes) {
        refuse(HostErrorCode.FrameTooLarge, `frame over ${maxFrameBytes} bytes`, CloseCode.FrameTooLarge);
        return;
      }
      if (!isBinary) {
        sendRaw({ type: 'error', code: HostErrorCode.TextFrame, message: 'binary frames only' });
        return;
      }
      let value: unknown;
      try {
        // The first frame comes before authentication: small and uncompressed only.
        value = helloSeen ? frames.decode(bytes) : decodeHelloFrame(bytes);
      } catch (error) {
        // After a bad frame the compression contexts may be out of step: the connection ends.
        const code = isSyncError(error) ? error.code : 'FRAME_CORRUPT';
        const tooLarge = code === 'FRAME_TOO_LARGE' || code === 'FRAME_INFLATE_LIMIT';
        refuse(code, error instanceof Error ? error.message : 'bad frame', tooLarge ? CloseCode.FrameTooLarge : CloseCode.ProtocolError);
        return;
      }
      helloSeen = true;
      connection.receive(value);
    });
    socket.on('close', () => {
      open = false;
      this.sockets.delete(socket);
      connection.closed();
    });
    socket.on('error', () => undefined);
  }
}

/**
 * What to send instead of a message too large for one frame: a reply becomes an error naming
 * the request (RELAY_REPLY_TOO_LARGE: pull a smaller page); live changes become an empty page
 * with `hasMore` from the last seq before them, so the device pulls them instead of missing them.
 */
function tooLargeStandIn(message: ServerMessage): ServerMessage | null {
  if (message.type === 'changes' && message.replyTo === undefined && message.changes.length > 0) {
    return { type: 'changes', changes: [], cursor: message.changes[0]!.seq - 1, hasMore: true };
  }
  if ('replyTo' in message && message.replyTo !== undefined) {
    return { type: 'error', replyTo: message.replyTo, code: HostErrorCode.ReplyTooLarge, message: 'the reply exceeds the frame limit' };
  }
  return null;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
