/**
 * One device's WebSocket on `/v1/sync` (DESIGN.md "Wire protocol"): frames in and out through
 * the connection's own FrameCodec (its compression context; the inflated size is capped),
 * `hello` within the timeout, validation of every message, the per-device rate limit, and the
 * protocol's requests answered from the database. Messages of one socket are handled one after
 * another, in the order they came, so every reply follows what the device sent before it.
 *
 * Bad input from the device is data: a coded `error` frame, and a close code when the
 * connection cannot go on. Nothing a device sends can crash the process.
 */
import type { WebSocket, RawData } from 'ws';
import { isSyncError } from '../../core/errors';
import type { RequestId, UserId, DeviceId } from '../../core/ids';
import { CloseCode } from '../../core/protocol/close-codes';
import type { CodecRegistry } from '../../core/protocol/codecs';
import { decodeHelloFrame, FrameCodec } from '../../core/protocol/frame';
import {
  MAX_PULL_LIMIT,
  PROTOCOL_VERSIONS,
  type ChangesMessage,
  type ClientMessage,
  type CodecName,
  type HelloMessage,
  type PresenceState,
  type PushMessage,
  type ServerMessage,
} from '../../core/protocol/messages';
import { negotiate } from '../../core/protocol/negotiate';
import { parseClientMessage } from '../../core/protocol/validate';
import { nodeCodecRegistry } from '../../core/node/protocol/node-codecs';
import type { CommandService } from '../commands/command-service';
import type { ClientChange, ServerChange } from '../../core/model/changes';
import { appendChanges, pullStoredChanges, type AppendResult } from '../db/change-log';
import { deviceLogPosition } from '../db/device-client-seq';
import { writePullReply } from './pull-reply';
import { Utf8Writer } from './utf8-writer';
import type { Database } from '../db/database';
import type { Logger } from '../observability/logger';
import type { RelayMetrics } from '../observability/metrics';
import type { DeviceRateLimits, TokenBucket } from './rate-limiter';
import type { HubConnection, LivePage, SyncHub } from './sync-hub';

/** Error codes the sync endpoint sends in `error` frames (besides PROTOCOL_*, FRAME_*, COMMAND_* and change-log codes). */
export const SyncErrorCode = {
  /** The first message was not `hello`. Closes with ProtocolError. */
  ExpectedHello: 'PROTOCOL_EXPECTED_HELLO',
  /** A second `hello` on a connection that already has one. */
  DuplicateHello: 'PROTOCOL_DUPLICATE_HELLO',
  /** A text frame: the protocol speaks binary frames only. */
  TextFrame: 'PROTOCOL_TEXT_FRAME',
  /** `hello` did not arrive in time (close reason). */
  HelloTimeout: 'PROTOCOL_HELLO_TIMEOUT',
  /** A frame over the size limit (close reason). */
  FrameTooLarge: 'PROTOCOL_FRAME_TOO_LARGE',
  /** Missing, unknown, expired or revoked token. Closes with Unauthorized. */
  InvalidToken: 'AUTH_TOKEN_INVALID',
  /** The access token of an open socket expired and no fresh `auth` came. Closes with Unauthorized. */
  TokenExpired: 'AUTH_TOKEN_EXPIRED',
  /** The token belongs to another device. Closes with Forbidden. */
  Forbidden: 'AUTH_FORBIDDEN',
  /** The device sent frames faster than its limit. Closes with RateLimited. */
  RateLimited: 'RATE_LIMITED',
  /** A reply that would not fit in one frame (pull a smaller page). */
  ReplyTooLarge: 'RELAY_REPLY_TOO_LARGE',
  /** The socket had more than `slowConsumerCloseBytes` unsent (close reason, with RateLimited 4429). */
  SlowConsumer: 'WS_SLOW_CONSUMER',
  /** The relay failed handling a message. Closes with InternalError. */
  Internal: 'RELAY_INTERNAL',
} as const;

/** Limits and shared parts every connection of an endpoint uses. */
export interface ConnectionDeps {
  db: Database;
  hub: SyncHub;
  commands: CommandService;
  /** `expiresAt` (epoch ms), when given, is enforced on the open socket. */
  sessions: { validateAccessToken(token: string): Promise<{ userId: string; deviceId: string; expiresAt?: number } | null> };
  rateLimits: DeviceRateLimits;
  logger: Logger;
  metrics?: RelayMetrics;
  maxFrameBytes: number;
  maxInflatedBytes: number;
  compressThreshold: number;
  /** Brotli quality of the frames sent with brotli (bodies above the context limit). */
  brotliQuality: number;
  helloTimeoutMs: number;
  /** Unsent bytes above which live change pages give way to one empty `hasMore` page (see sendLive). */
  slowConsumerBytes: number;
  /** Unsent bytes above which the socket is closed (RateLimited, WS_SLOW_CONSUMER). */
  slowConsumerCloseBytes: number;
  /** Codecs offered to devices. */
  codecs: readonly CodecName[];
  /** Next connection order number. */
  nextOrder(): number;
  /** Awaited after every committed push that stored changes, before the device is answered (cache invalidation). Must not throw. */
  onCommitted?(userId: string, stored: readonly ServerChange[]): Promise<void>;
}

/**
 * The buffer every connection of this process writes its pull replies into: a reply is written
 * and encoded into its frame in one synchronous step, so one buffer serves them all.
 */
const pullReplyWriter = new Utf8Writer();

/** Frames a socket may queue while its hello is still being checked. */
const MAX_FRAMES_BEFORE_WELCOME = 16;

/** Most changes of waiting pushes committed in one transaction. */
const MAX_COALESCED_CHANGES = 2000;

/** Longest delay setTimeout takes (about 24.8 days); a later expiry is re-armed from there. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** ws closes an oversize frame with 1009 itself (maxPayload); the protocol names it FrameTooLarge. */
const WS_MESSAGE_TOO_BIG = 1009;

export class SyncConnection implements HubConnection {
  readonly order: number;
  presence: { state: PresenceState; activeTaskId?: string } = { state: 'online' };
  private auth?: { userId: string; deviceId: string };
  private readonly frames: FrameCodec;
  private open = true;
  private helloSeen = false;
  private joined = false;
  private bucket?: TokenBucket;
  private helloTimer?: NodeJS.Timeout;
  /** Closes the socket when its access token expires (re-armed by each accepted `auth`). */
  private expiryTimer?: NodeJS.Timeout;
  /** Decoded messages waiting to be handled, in arrival order. */
  private readonly inbox: unknown[] = [];
  private draining = false;
  /** Live change pages were held back (slow consumer) and the device was told to pull. */
  private lagging = false;
  private readonly closedListeners = new Set<() => void>();

  constructor(
    private readonly socket: WebSocket,
    private readonly deps: ConnectionDeps,
  ) {
    this.order = deps.nextOrder();
    this.frames = new FrameCodec({
      codec: 'none',
      codecs: codecRegistry(deps.brotliQuality),
      maxFrameBytes: deps.maxFrameBytes,
      maxInflatedBytes: deps.maxInflatedBytes,
      compressThreshold: deps.compressThreshold,
    });
    const close = socket.close.bind(socket);
    socket.close = (code?: number, reason?: string | Buffer) => {
      if (code === WS_MESSAGE_TOO_BIG) {
        this.open = false;
        return close(CloseCode.FrameTooLarge, SyncErrorCode.FrameTooLarge);
      }
      return close(code, reason);
    };
    deps.metrics?.recordOpen();
    this.helloTimer = setTimeout(() => {
      if (this.open && !this.auth) this.close(CloseCode.HelloTimeout, SyncErrorCode.HelloTimeout);
    }, deps.helloTimeoutMs);
    this.helloTimer.unref();
    socket.on('message', (data: RawData, isBinary: boolean) => this.onFrame(data, isBinary));
    socket.on('close', (code: number) => this.onClosed(code));
    socket.on('error', () => undefined);
  }

  get userId(): string {
    return this.auth?.userId ?? '';
  }

  get deviceId(): string {
    return this.auth?.deviceId ?? '';
  }

  /** Called once when the socket has closed. */
  onClose(listener: () => void): void {
    this.closedListeners.add(listener);
  }

  /**
   * Sends one message (a stand-in when it is too large for a frame). Never throws. Live change
   * pages go through the slow-consumer check; past `slowConsumerCloseBytes` unsent the socket
   * is closed instead.
   */
  send(message: ServerMessage): void {
    const buffered = this.writableBytesQueued();
    if (buffered === null) return;
    if (message.type === 'changes' && message.replyTo === undefined) {
      const live = this.liveOrStandIn(message, buffered);
      if (!live) return;
      message = live;
    }
    const final = message;
    this.sendFrame(() => this.frames.encode(final), () => tooLargeStandIn(final));
  }

  /**
   * Sends a live page the hub serialised (and may have compressed) once for all its sockets,
   * under the same slow-consumer rule as `send`. Never throws.
   */
  sendLive(page: LivePage): void {
    const buffered = this.writableBytesQueued();
    if (buffered === null) return;
    const pull: ChangesMessage = { type: 'changes', changes: [], cursor: page.pullFrom, hasMore: true };
    if (buffered > this.deps.slowConsumerBytes) {
      const standIn = this.liveOrStandIn(pull, buffered);
      if (standIn) this.sendFrame(() => this.frames.encode(standIn), () => null);
      return;
    }
    this.lagging = false;
    this.sendFrame(() => this.frames.encodeJson(page.json, page.shared), () => pull);
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
    if (!this.open || this.socket.readyState !== this.socket.OPEN) return null;
    const buffered = this.socket.bufferedAmount;
    if (buffered > this.deps.slowConsumerCloseBytes) {
      this.deps.logger.warn('slow consumer closed', { deviceId: this.deviceId, buffered });
      this.close(CloseCode.RateLimited, SyncErrorCode.SlowConsumer);
      return null;
    }
    return buffered;
  }

  /** Encodes (falling back to the stand-in on FRAME_TOO_LARGE), counts and sends one frame. */
  private sendFrame(encode: () => Uint8Array, standIn: () => ServerMessage | null): void {
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
    this.socket.send(frame);
  }

  /**
   * Slow consumer: over `slowConsumerBytes` unsent, the first held-back live page becomes an
   * empty page with `hasMore` from the seq before it (the device pulls from its cursor, which
   * covers everything held back) and later ones are dropped; once the socket has drained below
   * the limit, live pages flow again. Memory per socket stays bounded by its own requests.
   */
  private liveOrStandIn(message: ChangesMessage, buffered: number): ChangesMessage | null {
    if (buffered <= this.deps.slowConsumerBytes) {
      this.lagging = false;
      return message;
    }
    if (this.lagging) return null;
    this.lagging = true;
    this.deps.logger.debug('slow consumer: live pages held back; the device pulls', { deviceId: this.deviceId, buffered });
    const first = message.changes[0]?.seq;
    return { type: 'changes', changes: [], cursor: first === undefined ? message.cursor : first - 1, hasMore: true };
  }

  /** Ends the connection with a close code. Idempotent. */
  close(code: number, reason: string): void {
    if (!this.open) return;
    this.open = false;
    this.leave();
    try {
      this.socket.close(code, reason.slice(0, 120));
    } catch {
      this.socket.terminate();
    }
  }

  /** Cuts the TCP connection without a closing handshake (shutdown stragglers). */
  terminate(): void {
    this.open = false;
    this.socket.terminate();
  }

  // ------------------------------------------------------------ frames

  private onFrame(data: RawData, isBinary: boolean): void {
    if (!this.open) return;
    if (this.bucket && !this.bucket.take()) {
      this.sendError(SyncErrorCode.RateLimited, 'too many frames; slow down');
      this.close(CloseCode.RateLimited, SyncErrorCode.RateLimited);
      return;
    }
    const bytes = toBytes(data);
    if (bytes.length > this.deps.maxFrameBytes) {
      this.refuse(SyncErrorCode.FrameTooLarge, `frame over ${this.deps.maxFrameBytes} bytes`, CloseCode.FrameTooLarge);
      return;
    }
    if (!isBinary) {
      this.sendError(SyncErrorCode.TextFrame, 'binary frames only');
      return;
    }
    let value: unknown;
    const stats = this.frames.stats;
    const body0 = stats.bodyBytesDecoded;
    const wire0 = stats.wireBytesDecoded;
    try {
      // The first frame comes before authentication: small and uncompressed only.
      value = this.helloSeen ? this.frames.decode(bytes) : decodeHelloFrame(bytes);
    } catch (error) {
      // After a bad frame the compression contexts may be out of step: the connection ends.
      const code = isSyncError(error) ? error.code : 'FRAME_CORRUPT';
      const tooLarge = code === 'FRAME_TOO_LARGE' || code === 'FRAME_INFLATE_LIMIT';
      this.refuse(code, error instanceof Error ? error.message : 'bad frame', tooLarge ? CloseCode.FrameTooLarge : CloseCode.ProtocolError);
      return;
    }
    if (this.helloSeen) this.deps.metrics?.recordFrame('in', stats.bodyBytesDecoded - body0, stats.wireBytesDecoded - wire0);
    else this.deps.metrics?.recordFrame('in', bytes.length - 1, bytes.length);
    this.helloSeen = true;
    if (!this.auth && this.inbox.length >= MAX_FRAMES_BEFORE_WELCOME) {
      // Nothing is rate limited before the device is known: a stranger may not queue more.
      this.refuse(SyncErrorCode.ExpectedHello, 'too many frames before the welcome', CloseCode.ProtocolError);
      return;
    }
    this.inbox.push(value);
    if (!this.draining) void this.drain();
  }

  /**
   * Handles the inbox in order. Consecutive pushes that are already waiting go to the database
   * as one transaction (each still gets its own reply, in order): a device that pipelines pushes
   * pays one commit for several of them.
   */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.open && this.inbox.length > 0) {
        const pushes = this.takeCoalescablePushes();
        if (pushes.length > 1) {
          try {
            await this.handlePushes(pushes, this.auth!);
          } catch (error) {
            if (!isSyncError(error) || error.code === 'DB_CLOSED') return this.internalError(error, pushes[0]);
            // Answer each push on its own, so an error names the push that caused it.
            for (const push of pushes) await this.handleSafely(push);
          }
          continue;
        }
        // A lone push was validated when it was taken: it is not parsed a second time.
        const push = pushes[0];
        await (push ? this.handleSafely(push, push) : this.handleSafely(this.inbox.shift()));
      }
    } finally {
      this.draining = false;
    }
  }

  private async handleSafely(raw: unknown, validated?: ClientMessage): Promise<void> {
    try {
      await this.handle(raw, validated);
    } catch (error) {
      this.internalError(error, raw);
    }
  }

  /** Valid pushes at the head of the inbox with no clientSeq in common, up to MAX_COALESCED_CHANGES changes. */
  private takeCoalescablePushes(): PushMessage[] {
    const taken: PushMessage[] = [];
    if (!this.auth) return taken;
    const seen = new Set<number>();
    let count = 0;
    while (this.inbox.length > 0) {
      const raw = this.inbox[0] as { type?: unknown; changes?: unknown } | null;
      if (typeof raw !== 'object' || raw === null || raw.type !== 'push' || !Array.isArray(raw.changes)) break;
      let push: PushMessage;
      try {
        push = parseClientMessage(raw) as PushMessage;
      } catch {
        break;
      }
      if (taken.length > 0 && (count + push.changes.length > MAX_COALESCED_CHANGES || push.changes.some((c) => seen.has(c.clientSeq)))) break;
      for (const c of push.changes) seen.add(c.clientSeq);
      count += push.changes.length;
      taken.push(push);
      this.inbox.shift();
    }
    return taken;
  }

  /** The one place pushes are committed: appends, then lets the relay invalidate what the push changed. */
  private async commit(auth: { userId: string; deviceId: string }, changes: ClientChange[]): Promise<AppendResult> {
    const result = await appendChanges(this.deps.db, auth.userId as UserId, auth.deviceId as DeviceId, changes);
    if (result.stored.length > 0) await this.deps.onCommitted?.(auth.userId, result.stored);
    return result;
  }

  /** One push, or several waiting ones, in one transaction; a reply per push, in order; one fan-out. */
  private async handlePushes(pushes: PushMessage[], auth: { userId: string; deviceId: string }): Promise<void> {
    const receivedAt = Date.now();
    const result = await this.commit(auth, pushes.flatMap((p) => p.changes));
    const accepted = new Map(result.accepted.map((a) => [a.clientSeq, a]));
    const conflicts = new Map(result.conflicts.map((c) => [c.clientSeq, c]));
    for (const push of pushes) {
      const mine = push.changes.flatMap((c) => accepted.get(c.clientSeq) ?? []);
      const theirs = push.changes.flatMap((c) => conflicts.get(c.clientSeq) ?? []);
      this.send(
        theirs.length > 0
          ? { type: 'conflict', replyTo: push.id, accepted: mine, conflicts: theirs }
          : { type: 'ack', replyTo: push.id, accepted: mine },
      );
    }
    this.deps.hub.publishChanges(auth.userId, auth.deviceId, result.stored, receivedAt);
  }

  private refuse(code: string, text: string, closeCode: number): void {
    this.sendError(code, text);
    this.close(closeCode, code);
  }

  private onClosed(code: number): void {
    this.open = false;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    this.armExpiry(undefined);
    this.leave();
    this.deps.metrics?.recordClose(code);
    for (const listener of this.closedListeners) listener();
    this.closedListeners.clear();
  }

  private leave(): void {
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    this.armExpiry(undefined);
    if (!this.auth || !this.joined) return;
    this.joined = false;
    this.deps.rateLimits.release(this.auth.deviceId);
    this.bucket = undefined;
    if (this.deps.hub.leave(this)) this.deps.hub.broadcastPresence(this.auth.userId, this.auth.deviceId, { state: 'offline' });
  }

  /**
   * Closes with Unauthorized / AUTH_TOKEN_EXPIRED at `expiresAt` (epoch ms) unless re-armed by a
   * fresh `auth` first; undefined only clears the timer. The timer is unref'd.
   */
  private armExpiry(expiresAt: number | undefined): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    if (expiresAt === undefined || !this.open) return;
    const delay = expiresAt - Date.now();
    if (delay <= 0) {
      this.refuse(SyncErrorCode.TokenExpired, 'the access token expired; authenticate again', CloseCode.Unauthorized);
      return;
    }
    this.expiryTimer = setTimeout(() => this.armExpiry(expiresAt), Math.min(delay, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  private internalError(error: unknown, raw: unknown): void {
    this.deps.logger.error('sync message failed', { err: error });
    this.deps.metrics?.errors.inc({ code: SyncErrorCode.Internal });
    this.sendError(SyncErrorCode.Internal, 'the relay failed handling a message', requestIdOf(raw));
    this.close(CloseCode.InternalError, SyncErrorCode.Internal);
  }

  // ------------------------------------------------------------ messages

  /** Handles one message; `validated` is `raw` already checked by parseClientMessage. */
  private async handle(raw: unknown, validated?: ClientMessage): Promise<void> {
    if (!this.open) return;
    let message: ClientMessage;
    try {
      message = validated ?? parseClientMessage(raw);
    } catch (error) {
      const code = isSyncError(error) ? error.code : 'PROTOCOL_INVALID_MESSAGE';
      const text = error instanceof Error ? error.message : 'invalid message';
      if (!this.auth && isSyncError(error) && error.details?.field === 'token') {
        this.refuse(SyncErrorCode.InvalidToken, 'missing or malformed token', CloseCode.Unauthorized);
        return;
      }
      this.sendError(code, text, requestIdOf(raw));
      if (!this.auth) this.close(CloseCode.ProtocolError, code);
      return;
    }
    if (!this.auth) {
      if (message.type !== 'hello') {
        this.refuse(SyncErrorCode.ExpectedHello, 'the first message must be hello', CloseCode.ProtocolError);
        return;
      }
      await this.handleHello(message);
      return;
    }
    try {
      await this.handleMessage(message, this.auth);
    } catch (error) {
      if (!isSyncError(error) || error.code === 'DB_CLOSED') throw error;
      // Coded failures (bad change, compacted cursor, unknown command, database unavailable)
      // answer the request; the connection goes on.
      this.sendError(error.code, error.message, 'id' in message ? message.id : undefined);
    }
  }

  private async handleHello(hello: HelloMessage): Promise<void> {
    let chosen: { protocolVersion: number; codec: CodecName };
    try {
      chosen = negotiate(hello, { versions: PROTOCOL_VERSIONS, codecs: this.deps.codecs });
    } catch (error) {
      const code = isSyncError(error) ? error.code : 'PROTOCOL_UNSUPPORTED_VERSION';
      this.refuse(code, 'no protocol version in common', CloseCode.UnsupportedVersion);
      return;
    }
    const auth = await this.deps.sessions.validateAccessToken(hello.token);
    if (!this.open) return;
    if (!auth) {
      this.refuse(SyncErrorCode.InvalidToken, 'the token is invalid, expired or revoked', CloseCode.Unauthorized);
      return;
    }
    if (auth.deviceId !== hello.deviceId) {
      this.refuse(SyncErrorCode.Forbidden, 'the token does not allow this device', CloseCode.Forbidden);
      return;
    }
    const { head, lastClientSeq } = await deviceLogPosition(this.deps.db, auth.userId as UserId, auth.deviceId as DeviceId);
    if (!this.open) return;
    if (this.helloTimer) clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    this.auth = { userId: auth.userId, deviceId: auth.deviceId };
    this.armExpiry(auth.expiresAt);
    this.send({
      type: 'welcome',
      protocolVersion: chosen.protocolVersion,
      codec: chosen.codec,
      userId: auth.userId as UserId,
      deviceId: auth.deviceId as DeviceId,
      serverCursor: head.seq,
      resync: hello.cursor > head.seq || hello.cursor < head.compactedSeq,
      lastClientSeq,
    });
    // Frames after the welcome use the codec it names.
    this.frames.setCodec(chosen.codec);
    this.bucket = this.deps.rateLimits.acquire(auth.deviceId);
    this.joined = true;
    // Subscribed before any later message of this socket (a pull) is answered: a change
    // committed after that is pushed live, one committed before is in the pull.
    const wasOffline = await this.deps.hub.join(this);
    if (!this.open) return;
    if (wasOffline) this.deps.hub.broadcastPresence(auth.userId, auth.deviceId, this.presence);
    this.deps.hub.introduce(this);
    await this.deps.commands.deviceConnected(auth.userId, auth.deviceId);
  }

  private async handleMessage(message: ClientMessage, auth: { userId: string; deviceId: string }): Promise<void> {
    switch (message.type) {
      case 'hello':
        this.sendError(SyncErrorCode.DuplicateHello, 'hello was already received');
        return;
      case 'auth': {
        const next = await this.deps.sessions.validateAccessToken(message.token);
        if (!this.open) return;
        if (next && next.deviceId === auth.deviceId && next.userId === auth.userId) {
          this.armExpiry(next.expiresAt);
          this.send({ type: 'auth.ok', replyTo: message.id });
          return;
        }
        this.sendError(SyncErrorCode.InvalidToken, 'the token is not valid for this device', message.id);
        this.close(CloseCode.Unauthorized, SyncErrorCode.InvalidToken);
        return;
      }
      case 'ping':
        this.send({ type: 'pong', replyTo: message.id });
        return;
      case 'push':
        await this.handlePushes([message], auth);
        return;
      case 'pull': {
        const limit = Math.min(Math.max(1, Math.floor(message.limit)), MAX_PULL_LIMIT);
        // Written from the stored JSON: the bodies are neither parsed nor re-serialised.
        const page = await pullStoredChanges(this.deps.db, auth.userId as UserId, message.cursor, limit);
        if (!this.open) return;
        this.sendBody(writePullReply(pullReplyWriter, message.id, page), replyTooLarge(message.id));
        return;
      }
      case 'command.send': {
        const queued = await this.deps.commands.send(auth.userId, auth.deviceId, message);
        this.send({ type: 'command.queued', replyTo: message.id, commandId: queued.commandId as never, expiresAt: queued.expiresAt });
        this.deps.commands.route(queued);
        return;
      }
      case 'command.response':
        await this.deps.commands.respond(auth.userId, auth.deviceId, message);
        return;
      case 'presence.update':
        this.presence = message.activeTaskId === undefined ? { state: message.state } : { state: message.state, activeTaskId: message.activeTaskId };
        this.deps.hub.broadcastPresence(auth.userId, auth.deviceId, this.presence);
        return;
    }
  }

  private sendError(code: string, message: string, replyTo?: RequestId): void {
    this.deps.metrics?.errors.inc({ code });
    this.send(replyTo === undefined ? { type: 'error', code, message } : { type: 'error', replyTo, code, message });
  }
}

/**
 * What to send instead of a message too large for one frame: a reply becomes an error naming
 * the request; live changes become an empty page with `hasMore` from the seq before them, so
 * the device pulls them instead of missing them.
 */
function tooLargeStandIn(message: ServerMessage): ServerMessage | null {
  if (message.type === 'changes' && message.replyTo === undefined && message.changes.length > 0) {
    return { type: 'changes', changes: [], cursor: message.changes[0]!.seq - 1, hasMore: true };
  }
  if ('replyTo' in message && message.replyTo !== undefined) return replyTooLarge(message.replyTo);
  return null;
}

function replyTooLarge(replyTo: RequestId): ServerMessage {
  return { type: 'error', replyTo, code: SyncErrorCode.ReplyTooLarge, message: 'the reply exceeds the frame limit' };
}

/** The request id of a (possibly invalid) message, so an error can name it. */
function requestIdOf(raw: unknown): RequestId | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const id = (raw as { id?: unknown }).id;
  return typeof id === 'string' && /^[\x21-\x7e]{1,128}$/.test(id) ? (id as RequestId) : undefined;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * One codec registry per brotli quality for every connection: the hub's shared encodings of a
 * live page are keyed by codec object, so sockets on the same codec compress it once.
 */
const registries = new Map<number, CodecRegistry>();

function codecRegistry(brotliQuality: number): CodecRegistry {
  let registry = registries.get(brotliQuality);
  if (!registry) {
    registry = nodeCodecRegistry({ brotliQuality });
    registries.set(brotliQuality, registry);
  }
  return registry;
}
