/**
 * RooCloudClient: a device's WebSocket link to the relay (`ws`), implementing SyncTransport.
 *
 * It connects, says hello, correlates requests with replies (each with a timeout), reconnects
 * with exponential backoff and jitter for as long as it lives (status turns `offline` after a
 * few failures, and retries go on slowly; only a final close code or `close()` stops them,
 * and both are visible in `status`), drains the outbox on every (re)connect, and hands live
 * changes, remote commands, command results and presence to listeners.
 *
 * Error codes of rejected calls:
 * - CLIENT_TIMEOUT: no reply within `requestTimeoutMs`;
 * - CLIENT_DISCONNECTED: not connected, or the connection ended before the reply;
 * - CLIENT_CLOSED: `close()` was called;
 * - any code of the relay's `error` reply (e.g. COMMAND_TARGET_UNKNOWN).
 * Codes only seen in `status.lastError`: CLIENT_CONNECT_FAILED (socket error),
 * CLIENT_TOKEN_UNAVAILABLE (`getToken` failed), an OUTBOX_* code (the outbox could not be
 * anchored after a welcome: the connection is dropped and retried), CLIENT_PUSH_UNANSWERED
 * (a drain push left changes unanswered), CLIENT_CONFLICT_LISTENER_FAILED (a drain conflict
 * listener threw a non-SyncError), CLOSE_<NAME> (the relay closed with that CloseCode, e.g. CLOSE_FORBIDDEN),
 * or the code of an `error` frame the relay sent before closing.
 */
import WebSocket from 'ws';
import { SyncError } from '../../errors';
import { asRequestId, type CommandId, type DeviceId, type TaskId } from '../../ids';
import type { ClientChange, ServerChange } from '../../model/changes';
import type { AnchorOutcome, Outbox } from '../../ports/outbox';
import type { PullPage, PushOutcome, SyncTransport } from '../../ports/sync-transport';
import { CloseCode, FINAL_CLOSE_CODES } from '../../protocol/close-codes';
import { FrameCodec, type FrameStats } from '../../protocol/frame';
import {
  PROTOCOL_VERSIONS,
  type ChangeConflict,
  type ClientMessage,
  type CodecName,
  type CommandDeliverMessage,
  type CommandResultMessage,
  type CommandResultStatus,
  type PresenceMessage,
  type PresenceState,
  type RemoteCommand,
  type ServerMessage,
  type WelcomeMessage,
} from '../../protocol/messages';
import { parseServerMessage } from '../../protocol/validate';
import { nodeCodecRegistry } from '../protocol/node-codecs';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../../client/backoff';
import { DEFAULT_PUSH_WINDOW, pushWindowed } from '../../client/push-window';
import { Listeners } from '../../client/listeners';

export type ClientState = 'connecting' | 'online' | 'offline';

export interface ClientStatus {
  state: ClientState;
  /** When the next connection attempt starts (ms since epoch); null when none is scheduled. */
  nextRetryAt: number | null;
  /** The backoff delay chosen for that retry (ms); null when none is scheduled. */
  retryDelayMs: number | null;
  /**
   * Connection attempts that failed in a row (0 while a welcomed connection is open). A
   * connection that ends within `stableAfterMs` of its welcome counts as one more failure.
   */
  failures: number;
  /** Why the last attempt failed or the last connection ended; null when none did. */
  lastError: { code: string; message: string } | null;
  /** True after `close()` or a final close code: the client will not reconnect on its own. */
  stopped: boolean;
}

export type { BackoffOptions } from '../../client/backoff';

export interface RooCloudClientOptions {
  /** `ws(s)://host:port/v1/sync`. */
  url: string;
  deviceId: DeviceId | string;
  /** The current access token; asked before every connection attempt. */
  getToken(): Promise<string>;
  /** The highest seq this device has applied; sent in hello. */
  getCursor(): number;
  /**
   * Drained on every (re)connect and on `flush()`. Owned by the caller (not closed here).
   * After every welcome and before the connection counts as online, it is anchored to the
   * relay's `lastClientSeq` (see Outbox.anchor), so a fresh journal never reuses clientSeqs
   * the relay would take for replays.
   */
  outbox?: Outbox;
  /** Codecs offered, in order of preference. Default: brotli, deflate, none. */
  codecs?: readonly CodecName[];
  /** Per-request reply timeout, also the hello/welcome timeout. Default 15 s. */
  requestTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Consecutive failures after which status says `offline`. Default 3. */
  offlineAfterFailures?: number;
  /**
   * A connection must last this long after its welcome before the backoff starts over; one
   * that ends sooner (a relay that welcomes and then closes: rate limit, failing backend)
   * counts as a failed attempt, so reconnects keep slowing down. Default 10 s.
   */
  stableAfterMs?: number;
  /** Outbox changes per push while draining. Default 200. */
  drainBatchSize?: number;
  /** Pushes awaiting their reply at once while draining (core/client/push-window.ts). Default 4. */
  pushWindow?: number;
  /** Ping period that detects a dead connection; 0 turns it off. Default 30 s. */
  pingIntervalMs?: number;
  /** Largest frame accepted from the relay. Default 16 MiB; inflated bodies up to 4x that. */
  maxFrameBytes?: number;
  /**
   * Frames this device sends with a body smaller than this many bytes go uncompressed. Default:
   * FrameCodec's (128 bytes with the connection's compression context, 1024 without).
   */
  compressThreshold?: number;
  /** Random source in [0, 1) for jitter (tests pin it). Default Math.random. */
  random?: () => number;
}

/** What `sendCommand` resolves to. */
export interface QueuedCommand {
  commandId: CommandId;
  expiresAt: number;
}

/** Conflicts the relay returned while draining the outbox, with the outbox changes they refer to. */
export interface DrainConflicts {
  conflicts: ChangeConflict[];
  changes: ClientChange[];
}

interface PendingRequest {
  resolve(message: ServerMessage): void;
  reject(error: SyncError): void;
  timer: NodeJS.Timeout;
}

interface Session {
  socket: WebSocket;
  /** One per connection, both directions: it keeps the compression context. */
  frames: FrameCodec;
  welcome: WelcomeMessage | null;
  /** The welcome arrived and the outbox is being anchored; not online yet. */
  welcoming?: boolean;
  /** When the welcome arrived (ms since epoch), and the failure count just before it. */
  welcomedAt?: number;
  failuresBeforeWelcome?: number;
  pingTimer?: NodeJS.Timeout;
  welcomeTimer?: NodeJS.Timeout;
  /** Outbox changes that conflicted while nobody listened: not pushed again on this session. */
  heldConflicts: Set<number>;
}

/** Remembers this many command ids so a redelivered command reaches listeners once. */
const SEEN_COMMANDS_LIMIT = 1000;

export class RooCloudClient implements SyncTransport {
  private readonly options: RooCloudClientOptions;
  private readonly backoff: BackoffOptions;
  private readonly requestTimeoutMs: number;
  private readonly codecRegistry = nodeCodecRegistry();
  private session: Session | null = null;
  private readonly pending = new Map<string, PendingRequest>();
  private nextRequest = 1;
  private retryTimer?: NodeJS.Timeout;
  private started = false;
  private closed = false;
  private closing?: Promise<void>;
  private currentStatus: ClientStatus = { state: 'offline', nextRetryAt: null, retryDelayMs: null, failures: 0, lastError: null, stopped: false };
  private draining?: Promise<void>;
  private drainAgain = false;
  /** A drain retry after the relay answered a push with an error while the socket stayed up. */
  private drainRetryTimer?: NodeJS.Timeout;
  private drainFailures = 0;
  private presence: { state: PresenceState; activeTaskId?: TaskId } | null = null;
  private readonly seenCommands = new Set<string>();

  private readonly statusListeners = new Listeners<[ClientStatus]>();
  private readonly connectedListeners = new Listeners<[WelcomeMessage]>();
  private readonly liveListeners = new Listeners<[ServerChange[]]>();
  private readonly livePageListeners = new Listeners<[PullPage]>();
  private readonly commandListeners = new Listeners<[CommandDeliverMessage]>();
  private readonly resultListeners = new Listeners<[CommandResultMessage]>();
  private readonly presenceListeners = new Listeners<[PresenceMessage]>();
  private readonly anchorListeners = new Listeners<[AnchorOutcome]>();
  /** Drain conflict listeners; a returned promise is awaited before the conflicts are acknowledged. */
  private readonly conflictListeners = new Set<(conflicts: DrainConflicts) => unknown>();

  constructor(options: RooCloudClientOptions) {
    this.options = options;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  }

  // ------------------------------------------------------------ lifecycle and status

  /** Starts connecting (and reconnecting) in the background. Idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.connect();
  }

  get status(): ClientStatus {
    return { ...this.currentStatus };
  }

  /**
   * The open connection's framing: the codec negotiated at hello, the size from which bodies
   * are compressed, and the bytes sent so far (body and on the wire). Null while not connected.
   */
  get wire(): { codec: CodecName; compressThreshold: number; stats: FrameStats } | null {
    const frames = this.session?.frames;
    return frames ? { codec: frames.codec, compressThreshold: frames.compressThreshold, stats: { ...frames.stats } } : null;
  }

  /** True while a welcomed connection is open. */
  get isOnline(): boolean {
    return this.session?.welcome != null;
  }

  /** Status changes. Returns its remover. */
  onStatus(listener: (status: ClientStatus) => void): () => void {
    return this.statusListeners.add(listener);
  }

  /**
   * Anchors of the outbox that changed something: `anchored` (a fresh journal moved its
   * numbering above the relay's) and `realigned` (an anchored journal was behind the relay:
   * worth a warning, see AnchorOutcome). Returns its remover.
   */
  onOutboxAnchored(listener: (outcome: AnchorOutcome) => void): () => void {
    return this.anchorListeners.add(listener);
  }

  /** Every welcome (first connect and reconnects); check `resync`. Returns its remover. */
  onConnected(listener: (welcome: WelcomeMessage) => void): () => void {
    return this.connectedListeners.add(listener);
  }

  /**
   * Stops reconnecting, fails pending requests with CLIENT_DISCONNECTED, closes the socket.
   * Does not close the outbox (its owner does). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      if (this.retryTimer) clearTimeout(this.retryTimer);
      if (this.drainRetryTimer) clearTimeout(this.drainRetryTimer);
      this.retryTimer = undefined;
      const session = this.session;
      this.setStatus({ state: 'offline', nextRetryAt: null, retryDelayMs: null, stopped: true });
      if (session) {
        const ended = new Promise<void>((resolve) => session.socket.once('close', () => resolve()));
        this.endSession(session, { code: 'CLIENT_CLOSED', message: 'the client was closed' });
        session.socket.close(CloseCode.Normal, 'client closed');
        const cut = setTimeout(() => session.socket.terminate(), 1000);
        cut.unref();
        await ended;
        clearTimeout(cut);
      }
      await this.draining?.catch(() => undefined);
    })();
    return this.closing;
  }

  // ------------------------------------------------------------ SyncTransport

  async push(changes: ClientChange[]): Promise<PushOutcome> {
    const reply = await this.request({ type: 'push', changes });
    if (reply.type === 'ack') return { accepted: reply.accepted, conflicts: [] };
    if (reply.type === 'conflict') return { accepted: reply.accepted, conflicts: reply.conflicts };
    throw unexpected(reply);
  }

  async pull(cursor: number, limit: number): Promise<PullPage> {
    const reply = await this.request({ type: 'pull', cursor, limit });
    if (reply.type !== 'changes') throw unexpected(reply);
    return { changes: reply.changes, cursor: reply.cursor, hasMore: reply.hasMore };
  }

  onLiveChanges(listener: (changes: ServerChange[]) => void): () => void {
    return this.liveListeners.add(listener);
  }

  /**
   * Live pages as the relay sent them. A page with `hasMore` (possibly with no changes: the
   * relay could not fit them in a frame) means: pull from `cursor` now. Returns its remover.
   */
  onLivePage(listener: (page: PullPage) => void): () => void {
    return this.livePageListeners.add(listener);
  }

  // ------------------------------------------------------------ remote commands and presence

  /**
   * Commands sent to this device. The client answers `delivered` on its own when a listener
   * took the command, and gives each command to listeners once even when the relay redelivers
   * it; the listener reports progress and the outcome with `sendCommandResponse`. With no
   * listener, a command is left for the relay to redeliver.
   */
  onCommand(listener: (delivery: CommandDeliverMessage) => void): () => void {
    return this.commandListeners.add(listener);
  }

  /** Asks the relay to deliver a command to another device of this user. */
  async sendCommand(targetDeviceId: DeviceId | string, command: RemoteCommand): Promise<QueuedCommand> {
    const reply = await this.request({ type: 'command.send', targetDeviceId: targetDeviceId as DeviceId, command });
    if (reply.type !== 'command.queued') throw unexpected(reply);
    return { commandId: reply.commandId, expiresAt: reply.expiresAt };
  }

  /**
   * Reports on a command this device received. Resolves once the frame is handed to the
   * socket (the relay replies only with an error, which goes to `status.lastError`).
   */
  async sendCommandResponse(
    commandId: CommandId | string,
    status: Exclude<CommandResultStatus, 'expired'>,
    result?: unknown,
    error?: { code: string; message: string },
  ): Promise<void> {
    const message: ClientMessage = {
      type: 'command.response',
      id: this.newRequestId(),
      commandId: commandId as CommandId,
      status,
      ...(result === undefined ? {} : { result }),
      ...(error === undefined ? {} : { error }),
    };
    this.sendNow(message);
  }

  /** What became of commands this device sent. Returns its remover. */
  onCommandResult(listener: (result: CommandResultMessage) => void): () => void {
    return this.resultListeners.add(listener);
  }

  /** Other devices of the user coming, going and changing state. Returns its remover. */
  onPresence(listener: (presence: PresenceMessage) => void): () => void {
    return this.presenceListeners.add(listener);
  }

  /** Announces this device's state; repeated after every reconnect. */
  updatePresence(state: PresenceState, activeTaskId?: TaskId): void {
    this.presence = activeTaskId === undefined ? { state } : { state, activeTaskId };
    if (this.isOnline) this.sendNow({ type: 'presence.update', ...this.presence });
  }

  /** Sends a fresh token (from `getToken`) on the live connection before the old one expires. */
  async reauthenticate(): Promise<void> {
    const token = await this.options.getToken();
    const reply = await this.request({ type: 'auth', token });
    if (reply.type !== 'auth.ok') throw unexpected(reply);
  }

  // ------------------------------------------------------------ outbox

  /**
   * Conflicts met while draining the outbox. The listener must take over the conflicting
   * changes (resolve and enqueue the result); once it returns (or its promise resolves) they
   * are acknowledged in the outbox. With no listener, or when a listener throws or rejects,
   * they stay queued and are pushed again on the next connection.
   */
  onDrainConflicts(listener: (conflicts: DrainConflicts) => unknown): () => void {
    // Wrapped so the same function added twice is called twice and removed once per remover.
    const entry = (conflicts: DrainConflicts) => listener(conflicts);
    this.conflictListeners.add(entry);
    return () => {
      this.conflictListeners.delete(entry);
    };
  }

  /**
   * Pushes everything in the outbox now (in clientSeq order, in batches) and acknowledges what
   * the relay accepted. Resolves when the outbox is drained or the connection is gone; never
   * rejects. Runs on its own after every welcome.
   */
  flush(): Promise<void> {
    if (!this.options.outbox || !this.isOnline) return Promise.resolve();
    if (this.draining) {
      this.drainAgain = true;
      return this.draining;
    }
    this.draining = this.drainLoop().finally(() => {
      this.draining = undefined;
    });
    return this.draining;
  }

  private async drainLoop(): Promise<void> {
    const outbox = this.options.outbox!;
    const batchSize = Math.max(1, this.options.drainBatchSize ?? 200);
    do {
      this.drainAgain = false;
      const session = this.session;
      if (!session?.welcome || this.closed) return;
      let unanswered = false;
      const settle = async (batch: ClientChange[], outcome: PushOutcome): Promise<boolean> => {
        this.drainFailures = 0;
        const done = outcome.accepted.map((a) => a.clientSeq);
        if (outcome.conflicts.length > 0) {
          const conflictSeqs = new Set(outcome.conflicts.map((c) => c.clientSeq));
          const changes = batch.filter((change) => conflictSeqs.has(change.clientSeq));
          if (this.conflictListeners.size > 0 && (await this.handOverConflicts({ conflicts: outcome.conflicts, changes }))) {
            done.push(...conflictSeqs);
          } else {
            for (const seq of conflictSeqs) session.heldConflicts.add(seq);
          }
        }
        if (done.length > 0) await outbox.acknowledge(done);
        const answered = new Set([...done, ...session.heldConflicts]);
        if (batch.some((change) => !answered.has(change.clientSeq))) {
          // A relay that leaves changes unanswered would have them pushed forever: stop here.
          this.noteError(new SyncError('CLIENT_PUSH_UNANSWERED', 'the relay did not answer every change of a push'));
          unanswered = true;
          return false;
        }
        return this.session === session && !this.closed;
      };
      try {
        await pushWindowed({
          window: this.options.pushWindow ?? DEFAULT_PUSH_WINDOW,
          nextBatch: (inFlight) => {
            const batch: ClientChange[] = [];
            if (this.session !== session || this.closed) return batch;
            for (const change of outbox.queued()) {
              if (batch.length >= batchSize) break;
              if (!inFlight.has(change.clientSeq) && !session.heldConflicts.has(change.clientSeq)) batch.push(change);
            }
            return batch;
          },
          send: (batch) => this.push(batch),
          settle,
        });
      } catch (error) {
        this.noteError(error);
        // A lost connection drains again on the next welcome. A relay that answered with an
        // error and stays connected (its database restarting: DB_UNAVAILABLE) sends no new
        // welcome: without this retry the queue waited for the next local change.
        this.flushLater();
        return;
      }
      if (unanswered || this.session !== session || this.closed) return;
    } while (this.drainAgain);
  }

  /**
   * Schedules one `flush()` after a backoff delay (growing while pushes keep failing), when the
   * socket is up: for a push the relay refused with an error while staying connected. A lost
   * connection needs none (every welcome drains).
   */
  flushLater(): void {
    if (this.closed || this.drainRetryTimer || !this.isOnline) return;
    const delay = backoffDelay(++this.drainFailures, this.backoff, (this.options.random ?? Math.random)());
    this.drainRetryTimer = setTimeout(() => {
      this.drainRetryTimer = undefined;
      void this.flush();
    }, delay);
    this.drainRetryTimer.unref?.();
  }

  /** Gives drain conflicts to every listener; true when all of them took them over. */
  private async handOverConflicts(conflicts: DrainConflicts): Promise<boolean> {
    const results = await Promise.allSettled([...this.conflictListeners].map(async (listener) => listener(conflicts)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (!failed) return true;
    this.noteError(failed.reason instanceof SyncError ? failed.reason : new SyncError('CLIENT_CONFLICT_LISTENER_FAILED', errorText(failed.reason)));
    return false;
  }

  // ------------------------------------------------------------ connection

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.setStatus({ state: this.currentStatus.failures >= this.offlineAfter ? 'offline' : 'connecting', nextRetryAt: null, retryDelayMs: null });
    let token: string;
    try {
      token = await this.options.getToken();
    } catch (error) {
      this.attemptFailed({ code: 'CLIENT_TOKEN_UNAVAILABLE', message: errorText(error) });
      return;
    }
    if (this.closed) return;
    const maxFrameBytes = this.options.maxFrameBytes ?? 16 * 1024 * 1024;
    const socket = new WebSocket(this.options.url, {
      perMessageDeflate: false,
      handshakeTimeout: this.requestTimeoutMs,
      maxPayload: maxFrameBytes,
    });
    socket.binaryType = 'nodebuffer';
    const frames = new FrameCodec({
      codec: 'none',
      codecs: this.codecRegistry,
      maxFrameBytes,
      maxInflatedBytes: maxFrameBytes * 4,
      ...(this.options.compressThreshold === undefined ? {} : { compressThreshold: this.options.compressThreshold }),
    });
    const session: Session = { socket, frames, welcome: null, heldConflicts: new Set() };
    this.session = session;
    let failure: { code: string; message: string } | null = null;

    socket.on('open', () => {
      const offered = (this.options.codecs ?? (['brotli', 'deflate', 'none'] as const)).filter((name) => this.codecRegistry.get(name) !== undefined);
      this.sendOn(session, {
        type: 'hello',
        protocolVersions: [...PROTOCOL_VERSIONS],
        codecs: offered.length > 0 ? offered : ['none'],
        token,
        deviceId: this.options.deviceId as DeviceId,
        cursor: this.options.getCursor(),
      });
    });
    session.welcomeTimer = setTimeout(() => {
      failure = { code: 'CLIENT_TIMEOUT', message: 'no welcome from the relay in time' };
      socket.terminate();
    }, this.requestTimeoutMs);
    session.welcomeTimer.unref();

    socket.on('message', (data: Buffer, isBinary: boolean) => {
      let message: ServerMessage;
      try {
        if (!isBinary) throw new SyncError('PROTOCOL_TEXT_FRAME', 'the relay sent a text frame');
        message = parseServerMessage(session.frames.decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
      } catch (error) {
        // A relay that sends garbage is broken; start over rather than guess.
        failure = { code: codeOf(error, 'PROTOCOL_MALFORMED'), message: errorText(error) };
        socket.close(CloseCode.ProtocolError, 'bad frame from relay');
        return;
      }
      if (message.type === 'welcome') {
        this.welcomed(session, message, (anchorFailure) => {
          failure = anchorFailure;
        });
        return;
      }
      if (message.type === 'error' && !message.replyTo) {
        failure = { code: message.code, message: message.message };
        this.noteError(new SyncError(message.code, message.message));
      }
      this.dispatch(session, message);
    });
    socket.on('error', (error) => {
      failure ??= { code: 'CLIENT_CONNECT_FAILED', message: errorText(error) };
    });
    socket.on('close', (code, reasonBuffer) => {
      const reason = reasonBuffer.toString();
      const wasOnline = session.welcome !== null;
      this.endSession(session, { code: 'CLIENT_DISCONNECTED', message: `connection closed (${code})` });
      if (this.closed) return;
      const lastError = failure ?? { code: closeCodeName(code), message: reason || `closed with ${code}` };
      if (FINAL_CLOSE_CODES.has(code)) {
        this.setStatus({ state: 'offline', nextRetryAt: null, retryDelayMs: null, stopped: true, lastError });
        return;
      }
      if (wasOnline) {
        const stable = Date.now() - session.welcomedAt! >= (this.options.stableAfterMs ?? 10_000);
        this.currentStatus.failures = stable ? 0 : session.failuresBeforeWelcome!;
      }
      this.attemptFailed(lastError);
    });
  }

  /**
   * A welcome arrived: switch codec, anchor the outbox, then go online. Until the anchor is
   * durable the session is not online and `request` refuses pushes; a caller reads `pending()`
   * and calls `push` in one synchronous step, so no push carries a clientSeq from before it.
   */
  private welcomed(session: Session, welcome: WelcomeMessage, failed: (failure: { code: string; message: string }) => void): void {
    if (session.welcome || session.welcoming || this.session !== session) return;
    clearTimeout(session.welcomeTimer);
    session.welcoming = true;
    try {
      session.frames.setCodec(welcome.codec);
    } catch (error) {
      // The relay chose a codec this client never offered.
      session.socket.close(CloseCode.ProtocolError, 'unknown codec');
      this.noteError(error);
      return;
    }
    const outbox = this.options.outbox;
    // A relay from before `lastClientSeq` cannot tell us its mark: push as before.
    if (!outbox || welcome.lastClientSeq === undefined) {
      this.online(session, welcome);
      return;
    }
    outbox.anchor(welcome.lastClientSeq).then(
      (outcome) => {
        if (this.session !== session || this.closed) return;
        if (outcome.action !== 'kept') this.anchorListeners.emit(outcome);
        this.online(session, welcome);
      },
      (error: unknown) => {
        if (this.session !== session || this.closed) return;
        // Pushing from an outbox whose numbering may collide with the relay's could lose
        // changes: drop this connection and retry with backoff instead.
        failed({ code: codeOf(error, 'CLIENT_ERROR'), message: errorText(error) });
        session.socket.close(CloseCode.GoingAway, 'outbox unavailable');
      },
    );
  }

  private online(session: Session, welcome: WelcomeMessage): void {
    session.welcome = welcome;
    session.welcomedAt = Date.now();
    session.failuresBeforeWelcome = this.currentStatus.failures;
    this.setStatus({ state: 'online', nextRetryAt: null, retryDelayMs: null, failures: 0, lastError: null });
    const pingMs = this.options.pingIntervalMs ?? 30_000;
    if (pingMs > 0) {
      session.pingTimer = setInterval(() => {
        this.request({ type: 'ping' }).catch((error: unknown) => {
          if (codeOf(error, '') === 'CLIENT_TIMEOUT' && this.session === session) session.socket.terminate();
        });
      }, pingMs);
      session.pingTimer.unref();
    }
    if (this.presence && this.presence.state !== 'online') this.sendOn(session, { type: 'presence.update', ...this.presence });
    this.connectedListeners.emit(welcome);
    void this.flush();
  }

  private dispatch(session: Session, message: ServerMessage): void {
    if ('replyTo' in message && message.replyTo !== undefined) {
      const pending = this.pending.get(message.replyTo);
      if (!pending) {
        // The relay refused a message nobody waits for (a command response): keep it visible.
        if (message.type === 'error') this.noteError(new SyncError(message.code, message.message));
        return;
      }
      this.pending.delete(message.replyTo);
      clearTimeout(pending.timer);
      if (message.type === 'error') pending.reject(new SyncError(message.code, message.message, { requestId: message.replyTo }));
      else pending.resolve(message);
      return;
    }
    switch (message.type) {
      case 'changes':
        if (message.changes.length > 0) this.liveListeners.emit(message.changes);
        this.livePageListeners.emit({ changes: message.changes, cursor: message.cursor, hasMore: message.hasMore });
        return;
      case 'command.deliver':
        this.delivered(session, message);
        return;
      case 'command.result':
        this.resultListeners.emit(message);
        return;
      case 'presence':
        this.presenceListeners.emit(message);
        return;
      default:
        return;
    }
  }

  private delivered(session: Session, delivery: CommandDeliverMessage): void {
    if (this.commandListeners.size === 0) return;
    this.sendOn(session, { type: 'command.response', id: this.newRequestId(), commandId: delivery.commandId, status: 'delivered' });
    if (this.seenCommands.has(delivery.commandId)) return;
    this.seenCommands.add(delivery.commandId);
    if (this.seenCommands.size > SEEN_COMMANDS_LIMIT) {
      this.seenCommands.delete(this.seenCommands.values().next().value!);
    }
    this.commandListeners.emit(delivery);
  }

  private attemptFailed(lastError: { code: string; message: string }): void {
    if (this.closed) return;
    const failures = this.currentStatus.failures + 1;
    const delay = backoffDelay(failures, this.backoff, (this.options.random ?? Math.random)());
    this.setStatus({
      state: failures >= this.offlineAfter ? 'offline' : 'connecting',
      nextRetryAt: Date.now() + delay,
      retryDelayMs: delay,
      failures,
      lastError,
    });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  private endSession(session: Session, error: { code: string; message: string }): void {
    clearTimeout(session.welcomeTimer);
    clearInterval(session.pingTimer);
    if (this.session !== session) return;
    this.session = null;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new SyncError(error.code === 'CLIENT_CLOSED' ? 'CLIENT_DISCONNECTED' : error.code, error.message, { requestId: id }));
    }
    this.pending.clear();
  }

  // ------------------------------------------------------------ requests and frames

  private get offlineAfter(): number {
    return Math.max(1, this.options.offlineAfterFailures ?? 3);
  }

  private newRequestId() {
    return asRequestId(`q${this.nextRequest++}`);
  }

  /** Sends a request with a fresh id; resolves with the reply, rejects with its error code. */
  private request(message: DistributiveOmit<Extract<ClientMessage, { id: unknown }>, 'id'>): Promise<ServerMessage> {
    if (this.closed) return Promise.reject(new SyncError('CLIENT_CLOSED', 'the client was closed'));
    const session = this.session;
    if (!session?.welcome) return Promise.reject(new SyncError('CLIENT_DISCONNECTED', 'not connected to the relay'));
    const id = this.newRequestId();
    return new Promise<ServerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SyncError('CLIENT_TIMEOUT', `no reply to ${message.type} in ${this.requestTimeoutMs} ms`, { requestId: id }));
      }, this.requestTimeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.sendOn(session, { ...message, id } as ClientMessage);
      } catch (error) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(error instanceof SyncError ? error : new SyncError('CLIENT_DISCONNECTED', errorText(error)));
      }
    });
  }

  /** Sends on the current welcomed connection or throws CLIENT_DISCONNECTED / CLIENT_CLOSED. */
  private sendNow(message: ClientMessage): void {
    if (this.closed) throw new SyncError('CLIENT_CLOSED', 'the client was closed');
    const session = this.session;
    if (!session?.welcome) throw new SyncError('CLIENT_DISCONNECTED', 'not connected to the relay');
    this.sendOn(session, message);
  }

  private sendOn(session: Session, message: ClientMessage): void {
    if (session.socket.readyState !== WebSocket.OPEN) throw new SyncError('CLIENT_DISCONNECTED', 'the connection is not open');
    session.socket.send(session.frames.encode(message));
  }

  private setStatus(patch: Partial<ClientStatus>): void {
    const next = { ...this.currentStatus, ...patch };
    const same = (Object.keys(next) as Array<keyof ClientStatus>).every((k) => next[k] === this.currentStatus[k]);
    this.currentStatus = next;
    if (!same) this.statusListeners.emit({ ...next });
  }

  private noteError(error: unknown): void {
    this.currentStatus.lastError = { code: codeOf(error, 'CLIENT_ERROR'), message: errorText(error) };
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function unexpected(reply: ServerMessage): SyncError {
  return new SyncError('PROTOCOL_UNEXPECTED_REPLY', `unexpected reply ${reply.type}`);
}

function codeOf(error: unknown, fallback: string): string {
  return error instanceof SyncError ? error.code : fallback;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A readable code for a close without a failure of our own. */
function closeCodeName(code: number): string {
  for (const [name, value] of Object.entries(CloseCode)) {
    if (value === code) return `CLOSE_${name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`;
  }
  return `CLOSE_${code}`;
}
