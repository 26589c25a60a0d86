/**
 * The sending half of a device's WebSocket (server/sync/sync-connection.ts): encodes messages
 * through the connection's FrameCodec, counts frames and bytes, replaces a message too large for
 * one frame by a stand-in, and applies the slow-consumer rule to live change pages (past
 * `slowConsumerBytes` unsent they give way to one empty `hasMore` page; past
 * `slowConsumerCloseBytes` the connection is closed). Nothing here throws.
 */
import type { WebSocket } from 'ws';
import type { RequestId } from '../../core/ids';
import { CloseCode } from '../../core/protocol/close-codes';
import { isSharedFrame, type FrameCodec } from '../../core/protocol/frame';
import type { ChangesMessage, ServerMessage } from '../../core/protocol/messages';
import type { Logger } from '../observability/logger';
import type { RelayMetrics } from '../observability/metrics';
import { SyncErrorCode } from './sync-error-codes';
import type { LivePage } from './sync-hub';
import { WsFrameWriter } from './ws-frame-writer';

export interface OutboundLimits {
  logger: Logger;
  metrics?: RelayMetrics;
  /** Unsent bytes above which live change pages give way to one empty `hasMore` page. */
  slowConsumerBytes: number;
  /** Unsent bytes above which the connection is closed (RateLimited, WS_SLOW_CONSUMER). */
  slowConsumerCloseBytes: number;
}

/** What the sender needs of its connection. */
export interface OutboundOwner {
  readonly isOpen: boolean;
  readonly deviceId: string;
  close(code: number, reason: string): void;
}

export class OutboundFrames {
  /** Live change pages were held back (slow consumer) and the device was told to pull. */
  private lagging = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly frames: FrameCodec,
    private readonly deps: OutboundLimits,
    private readonly connection: OutboundOwner,
    private readonly writer: WsFrameWriter = new WsFrameWriter(socket),
  ) {}

  /**
   * Sends one message (a stand-in when it is too large for a frame); past
   * `slowConsumerCloseBytes` unsent the socket is closed instead. Never throws. Live change
   * pages go through `sendLive`.
   */
  send(message: ServerMessage): void {
    if (this.writableBytesQueued() === null) return;
    this.sendFrame(() => this.frames.encode(message), () => tooLargeStandIn(message));
  }

  /**
   * Sends a live page the hub serialised (and may have compressed) once for all its sockets.
   * Never throws.
   *
   * Slow consumer: over `slowConsumerBytes` unsent, the first held-back live page becomes an
   * empty page with `hasMore` from the seq before it (the device pulls from its cursor, which
   * covers everything held back) and later ones are dropped; once the socket has drained below
   * the limit, live pages flow again. Memory per socket stays bounded by its own requests.
   */
  sendLive(page: LivePage): void {
    const buffered = this.writableBytesQueued();
    if (buffered === null) return;
    const pull: ChangesMessage = { type: 'changes', changes: [], cursor: page.pullFrom, hasMore: true };
    if (buffered > this.deps.slowConsumerBytes) {
      if (this.lagging) return;
      this.lagging = true;
      this.deps.logger.debug('slow consumer: live pages held back; the device pulls', { deviceId: this.connection.deviceId, buffered });
      this.sendFrame(() => this.frames.encode(pull), () => null);
      return;
    }
    this.lagging = false;
    this.sendFrame(() => this.frames.encodeJson(page.json, page.shared), () => pull, page);
  }

  /**
   * Sends a reply the caller wrote as UTF-8 JSON (`body`: one ServerMessage; it may be reused
   * once this returns), or `standIn` when it is too large for a frame. Never throws.
   */
  sendBody(body: Uint8Array, standIn: ServerMessage): void {
    if (this.writableBytesQueued() === null) return;
    this.sendFrame(() => this.frames.encodeBody(body), () => standIn);
  }

  /**
   * The bytes queued unsent on the socket, or null when nothing may be sent: the socket is
   * not open, or it holds more than `slowConsumerCloseBytes` (then it is closed, 4429).
   */
  private writableBytesQueued(): number | null {
    if (!this.connection.isOpen || this.socket.readyState !== this.socket.OPEN) return null;
    const buffered = this.socket.bufferedAmount;
    if (buffered > this.deps.slowConsumerCloseBytes) {
      this.deps.logger.warn('slow consumer closed', { deviceId: this.connection.deviceId, buffered });
      this.connection.close(CloseCode.RateLimited, SyncErrorCode.SlowConsumer);
      return null;
    }
    return buffered;
  }

  /**
   * Encodes (falling back to the stand-in on FRAME_TOO_LARGE), counts and sends one frame. A
   * live page's frame that is the same for every socket is framed for WebSocket once (`page.wire`).
   */
  private sendFrame(encode: () => Uint8Array, standIn: () => ServerMessage | null, page?: LivePage): void {
    const before = this.frames.stats;
    const body0 = before.bodyBytesEncoded;
    const wire0 = before.wireBytesEncoded;
    let frame: Uint8Array;
    try {
      frame = encode();
    } catch {
      const stand = standIn();
      if (!stand) return;
      try {
        frame = this.frames.encode(stand);
      } catch {
        return;
      }
    }
    this.deps.metrics?.recordFrame('out', this.frames.stats.bodyBytesEncoded - body0, this.frames.stats.wireBytesEncoded - wire0);
    this.writer.send(frame, page && isSharedFrame(page.shared, frame) ? (page.wire ??= new Map()) : undefined);
  }
}

/** What to send instead of a reply too large for one frame: an error naming the request. */
function tooLargeStandIn(message: ServerMessage): ServerMessage | null {
  return 'replyTo' in message && message.replyTo !== undefined ? replyTooLarge(message.replyTo) : null;
}

export function replyTooLarge(replyTo: RequestId): ServerMessage {
  return { type: 'error', replyTo, code: SyncErrorCode.ReplyTooLarge, message: 'the reply exceeds the frame limit' };
}
