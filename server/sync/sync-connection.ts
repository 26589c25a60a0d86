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
import type { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import { isSyncError } from '../../core/errors';
import type { RequestId, UserId, DeviceId } from '../../core/ids';
import { CloseCode } from '../../core/protocol/close-codes';
import type { CodecRegistry } from '../../core/protocol/codecs';
import { decodeHelloFrame, FrameCodec } from '../../core/protocol/frame';
import {
  MAX_PULL_LIMIT,
  PROTOCOL_VERSIONS,
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
import { pullStoredChanges, type AppendResult } from '../db/change-log';
import { deviceLogPosition } from '../db/device-client-seq';
import { writePullReply } from './pull-reply';
import { Utf8Writer } from './utf8-writer';
import type { Database } from '../db/database';
import { OutboundFrames, replyTooLarge, type OutboundLimits } from './outbound-frames';
import type { DeviceRateLimits, TokenBucket } from './rate-limiter';
import type { PushCommitter } from './push-committer';
import { SyncErrorCode } from './sync-error-codes';
import type { HubConnection, LivePage, SyncHub } from './sync-hub';
import { WsFrameWriter } from './ws-frame-writer';

/** Limits and shared parts every connection of an endpoint uses (logger, metrics and the slow-consumer limits: OutboundLimits). */
export interface ConnectionDeps extends OutboundLimits {
  db: Database;
  /** The process's group commit of pushes (one per endpoint). */
  pushes: PushCommitter;
  hub: SyncHub;
  commands: CommandService;
  /** `expiresAt` (epoch ms), when given, is enforced on the open socket. */
  sessions: { validateAccessToken(token: string): Promise<{ userId: string; deviceId: string; expiresAt?: number } | null> };
  rateLimits: DeviceRateLimits;
  maxFrameBytes: number;
  maxInflatedBytes: number;
  compressThreshold: number;
  /** Brotli quality of the frames sent with brotli (bodies above the context limit). */
  brotliQuality: number;
  helloTimeoutMs: number;
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
  private readonly out: OutboundFrames;
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
  private readonly closedListeners = new Set<() => void>();

  /**
   * `raw`: the socket the upgrade handed to ws for `socket`, given only when ws has
   * permessage-deflate off; frames are then written to it whole (ws-frame-writer.ts).
   */
  constructor(
    private readonly socket: WebSocket,
    private readonly deps: ConnectionDeps,
    raw?: Duplex,
  ) {
    this.order = deps.nextOrder();
    this.frames = new FrameCodec({
      codec: 'none',
      codecs: codecRegistry(deps.brotliQuality),
      maxFrameBytes: deps.maxFrameBytes,
      maxInflatedBytes: deps.maxInflatedBytes,
      compressThreshold: deps.compressThreshold,
    });
    this.out = new OutboundFrames(socket, this.frames, deps, this, new WsFrameWriter(socket, raw));
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

  /** Sends one message (a stand-in when too large; live change pages go through `sendLive`). Never throws. */
  send(message: ServerMessage): void {
    this.out.send(message);
  }

  /** Sends a live page the hub serialised once for all its sockets. Never throws. */
  sendLive(page: LivePage): void {
    this.out.sendLive(page);
  }

  /** True until the connection closes. */
  get isOpen(): boolean {
    return this.open;
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

  /**
   * The one place pushes are committed: through the process's group commit (with the pushes of
   * other connections that arrive meanwhile), then lets the relay invalidate what it changed.
   */
  private async commit(auth: { userId: string; deviceId: string }, changes: ClientChange[]): Promise<AppendResult> {
    const result = await this.deps.pushes.commit(auth.userId as UserId, auth.deviceId as DeviceId, changes);
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
        this.out.sendBody(writePullReply(pullReplyWriter, message.id, page), replyTooLarge(message.id));
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
