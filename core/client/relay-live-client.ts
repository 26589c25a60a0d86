/**
 * RelayLiveClient: a device's live link to the relay without an outbox, for a device that
 * reads and steers rather than syncs files (the web page). It speaks the relay's own protocol
 * through core/protocol (frame codec, messages, validators): hello with the codecs every peer
 * has (fflate deflate, none), live changes after commit, presence of the user's other devices,
 * remote commands sent through the command queue and their results.
 *
 * It runs over any WHATWG-style WebSocket (the browser's own, or `ws` in Node), handed in as
 * a factory, so it imports nothing from Node. It reconnects with exponential backoff and
 * jitter until `close()` or a final close code (the device was revoked).
 *
 * Error codes of rejected calls: CLIENT_TIMEOUT (no reply in time), CLIENT_DISCONNECTED (not
 * connected, or the connection ended before the reply), CLIENT_CLOSED (`close()` was called),
 * or the code of the relay's `error` reply (e.g. COMMAND_TARGET_UNKNOWN).
 */
import { SyncError } from '../errors';
import { asRequestId, type DeviceId, type TaskId } from '../ids';
import type { ServerChange } from '../model/changes';
import { FINAL_CLOSE_CODES, CloseCode } from '../protocol/close-codes';
import { FrameCodec } from '../protocol/frame';
import {
  PROTOCOL_VERSIONS,
  type ClientMessage,
  type CodecName,
  type CommandResultMessage,
  type PresenceMessage,
  type PresenceState,
  type RemoteCommand,
  type ServerMessage,
  type WelcomeMessage,
} from '../protocol/messages';
import { parseServerMessage } from '../protocol/validate';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff';
import { Listeners } from './listeners';

/** The part of a WHATWG WebSocket this client uses (browsers' WebSocket and `ws` both have it). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

/** WebSocket.OPEN. */
const OPEN = 1;

export type LiveState = 'connecting' | 'online' | 'offline';

export interface LiveStatus {
  state: LiveState;
  /** Why the last attempt failed or the last connection ended; null when none did. */
  lastError: { code: string; message: string } | null;
  /** True after `close()` or a final close code: no more reconnects. */
  stopped: boolean;
}

export interface RelayLiveClientOptions {
  /** `ws(s)://host:port/v1/sync`. */
  url: string;
  deviceId: string;
  /** The current access token; asked before every connection attempt. */
  getToken(): Promise<string>;
  /** Opens a socket (the browser: `(url) => new WebSocket(url)`). */
  createSocket(url: string): WebSocketLike;
  /** Codecs offered, best first. Default deflate, none (pure; no brotli in a browser). */
  codecs?: readonly CodecName[];
  /** Reply timeout, also the welcome timeout. Default 15 s. */
  requestTimeoutMs?: number;
  backoff?: Partial<BackoffOptions>;
  /** Ping period that finds a dead connection; 0 turns it off. Default 30 s. */
  pingIntervalMs?: number;
  /** Random source in [0, 1) for jitter. Default Math.random. */
  random?: () => number;
}

interface Pending {
  resolve(message: ServerMessage): void;
  reject(error: SyncError): void;
  timer: ReturnType<typeof setTimeout>;
}

interface Session {
  socket: WebSocketLike;
  frames: FrameCodec;
  welcome: WelcomeMessage | null;
  welcomeTimer?: ReturnType<typeof setTimeout>;
  pingTimer?: ReturnType<typeof setInterval>;
  failure?: { code: string; message: string };
}

export class RelayLiveClient {
  private readonly backoff: BackoffOptions;
  private readonly timeoutMs: number;
  private session: Session | null = null;
  private readonly pending = new Map<string, Pending>();
  private nextId = 1;
  private failures = 0;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private started = false;
  private closed = false;
  private current: LiveStatus = { state: 'offline', lastError: null, stopped: false };
  private readonly statusListeners = new Listeners<[LiveStatus]>();
  private readonly connectedListeners = new Listeners<[WelcomeMessage]>();
  private readonly changeListeners = new Listeners<[ServerChange[]]>();
  private readonly presenceListeners = new Listeners<[PresenceMessage]>();
  private readonly resultListeners = new Listeners<[CommandResultMessage]>();

  constructor(private readonly options: RelayLiveClientOptions) {
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.timeoutMs = options.requestTimeoutMs ?? 15_000;
  }

  /** Starts connecting (and reconnecting) in the background. Idempotent. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.connect();
  }

  get status(): LiveStatus {
    return { ...this.current };
  }

  get isOnline(): boolean {
    return this.session?.welcome != null;
  }

  onStatus(listener: (status: LiveStatus) => void): () => void {
    return this.statusListeners.add(listener);
  }

  /** Every welcome (first connection and reconnects): changes made while away must be read again. */
  onConnected(listener: (welcome: WelcomeMessage) => void): () => void {
    return this.connectedListeners.add(listener);
  }

  /** Changes of the user's log as the relay commits them (a page the relay could not fit says so with no changes). */
  onLiveChanges(listener: (changes: ServerChange[]) => void): () => void {
    return this.changeListeners.add(listener);
  }

  /** The user's other devices coming, going and changing state. */
  onPresence(listener: (presence: PresenceMessage) => void): () => void {
    return this.presenceListeners.add(listener);
  }

  /** What became of the commands this device sent (delivered, progress, done, failed, expired). */
  onCommandResult(listener: (result: CommandResultMessage) => void): () => void {
    return this.resultListeners.add(listener);
  }

  /** Queues a command for another device of the user; resolves when the relay queued it. */
  async sendCommand(targetDeviceId: string, command: RemoteCommand): Promise<{ commandId: string; expiresAt: number }> {
    const reply = await this.request({ type: 'command.send', targetDeviceId: targetDeviceId as DeviceId, command });
    if (reply.type !== 'command.queued') throw unexpected(reply);
    return { commandId: reply.commandId, expiresAt: reply.expiresAt };
  }

  /** Announces this device's state to the user's other devices. */
  updatePresence(state: PresenceState, activeTaskId?: string): void {
    const session = this.session;
    if (!session?.welcome) return;
    this.sendOn(session, activeTaskId === undefined ? { type: 'presence.update', state } : { type: 'presence.update', state, activeTaskId: activeTaskId as TaskId });
  }

  /** Stops reconnecting, fails pending requests, closes the socket. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    const session = this.session;
    this.setStatus({ state: 'offline', stopped: true });
    if (session) {
      this.endSession(session, 'CLIENT_CLOSED', 'the client was closed');
      try {
        session.socket.close(CloseCode.Normal, 'client closed');
      } catch {
        // already closing
      }
    }
  }

  // ------------------------------------------------------------ connection

  private async connect(): Promise<void> {
    if (this.closed) return;
    this.setStatus({ state: this.failures >= 3 ? 'offline' : 'connecting' });
    let token: string;
    try {
      token = await this.options.getToken();
    } catch (error) {
      this.retry({ code: codeOf(error, 'CLIENT_TOKEN_UNAVAILABLE'), message: errorText(error) });
      return;
    }
    if (this.closed) return;
    let socket: WebSocketLike;
    try {
      socket = this.options.createSocket(this.options.url);
    } catch (error) {
      this.retry({ code: 'CLIENT_CONNECT_FAILED', message: errorText(error) });
      return;
    }
    socket.binaryType = 'arraybuffer';
    const frames = new FrameCodec({ codec: 'none' });
    const session: Session = { socket, frames, welcome: null };
    this.session = session;
    session.welcomeTimer = setTimeout(() => {
      session.failure = { code: 'CLIENT_TIMEOUT', message: 'no welcome from the relay in time' };
      socket.close();
    }, this.timeoutMs);

    socket.onopen = () => {
      this.sendOn(session, {
        type: 'hello',
        protocolVersions: [...PROTOCOL_VERSIONS],
        codecs: [...(this.options.codecs ?? ['deflate', 'none'])],
        token,
        deviceId: this.options.deviceId as DeviceId,
        // This device keeps no copy of the log: it reads the read model and takes live changes.
        cursor: 0,
      });
    };
    socket.onmessage = (event) => {
      let message: ServerMessage;
      try {
        message = parseServerMessage(session.frames.decode(toBytes(event.data)));
      } catch (error) {
        session.failure = { code: codeOf(error, 'PROTOCOL_MALFORMED'), message: errorText(error) };
        socket.close(CloseCode.ProtocolError, 'bad frame from relay');
        return;
      }
      this.dispatch(session, message);
    };
    socket.onerror = () => {
      session.failure ??= { code: 'CLIENT_CONNECT_FAILED', message: 'the connection to the relay failed' };
    };
    socket.onclose = (event) => {
      const wasOnline = session.welcome !== null;
      this.endSession(session, 'CLIENT_DISCONNECTED', `connection closed (${event.code})`);
      if (this.closed) return;
      const lastError = session.failure ?? { code: `CLOSE_${event.code}`, message: event.reason || `closed with ${event.code}` };
      if (FINAL_CLOSE_CODES.has(event.code)) {
        this.setStatus({ state: 'offline', stopped: true, lastError });
        return;
      }
      if (wasOnline) this.failures = 0;
      this.retry(lastError);
    };
  }

  private dispatch(session: Session, message: ServerMessage): void {
    if (message.type === 'welcome') {
      clearTimeout(session.welcomeTimer);
      try {
        session.frames.setCodec(message.codec);
      } catch (error) {
        session.failure = { code: codeOf(error, 'FRAME_UNKNOWN_CODEC'), message: errorText(error) };
        session.socket.close(CloseCode.ProtocolError, 'unknown codec');
        return;
      }
      session.welcome = message;
      this.failures = 0;
      this.setStatus({ state: 'online', lastError: null });
      const pingMs = this.options.pingIntervalMs ?? 30_000;
      if (pingMs > 0) {
        session.pingTimer = setInterval(() => {
          this.request({ type: 'ping' }).catch((error: unknown) => {
            if (codeOf(error, '') === 'CLIENT_TIMEOUT' && this.session === session) session.socket.close();
          });
        }, pingMs);
      }
      this.connectedListeners.emit(message);
      return;
    }
    if ('replyTo' in message && message.replyTo !== undefined) {
      const pending = this.pending.get(message.replyTo);
      if (!pending) return;
      this.pending.delete(message.replyTo);
      clearTimeout(pending.timer);
      if (message.type === 'error') pending.reject(new SyncError(message.code, message.message, { requestId: message.replyTo }));
      else pending.resolve(message);
      return;
    }
    switch (message.type) {
      case 'changes':
        this.changeListeners.emit(message.changes);
        return;
      case 'presence':
        this.presenceListeners.emit(message);
        return;
      case 'command.result':
        this.resultListeners.emit(message);
        return;
      case 'error':
        session.failure = { code: message.code, message: message.message };
        return;
      default:
        return;
    }
  }

  private retry(lastError: { code: string; message: string }): void {
    if (this.closed) return;
    this.failures++;
    const delay = backoffDelay(this.failures, this.backoff, (this.options.random ?? Math.random)());
    this.setStatus({ state: this.failures >= 3 ? 'offline' : 'connecting', lastError });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
  }

  private endSession(session: Session, code: string, message: string): void {
    clearTimeout(session.welcomeTimer);
    if (session.pingTimer !== undefined) clearInterval(session.pingTimer);
    if (this.session !== session) return;
    this.session = null;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(new SyncError(code === 'CLIENT_CLOSED' ? 'CLIENT_DISCONNECTED' : code, message, { requestId: id }));
    }
    this.pending.clear();
  }

  private request(message: DistributiveOmit<Extract<ClientMessage, { id: unknown }>, 'id'>): Promise<ServerMessage> {
    if (this.closed) return Promise.reject(new SyncError('CLIENT_CLOSED', 'the client was closed'));
    const session = this.session;
    if (!session?.welcome) return Promise.reject(new SyncError('CLIENT_DISCONNECTED', 'not connected to the relay'));
    const id = asRequestId(`w${this.nextId++}`);
    return new Promise<ServerMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new SyncError('CLIENT_TIMEOUT', `no reply to ${message.type} in ${this.timeoutMs} ms`, { requestId: id }));
      }, this.timeoutMs);
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

  private sendOn(session: Session, message: ClientMessage): void {
    if (session.socket.readyState !== OPEN) throw new SyncError('CLIENT_DISCONNECTED', 'the connection is not open');
    session.socket.send(session.frames.encode(message));
  }

  private setStatus(patch: Partial<LiveStatus>): void {
    const next = { ...this.current, ...patch };
    const same = next.state === this.current.state && next.stopped === this.current.stopped && next.lastError === this.current.lastError;
    this.current = next;
    if (!same) this.statusListeners.emit({ ...next });
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new SyncError('PROTOCOL_TEXT_FRAME', 'the relay sent a text frame');
}

function unexpected(reply: ServerMessage): SyncError {
  return new SyncError('PROTOCOL_UNEXPECTED_REPLY', `unexpected reply ${reply.type}`);
}

function codeOf(error: unknown, fallback: string): string {
  return error instanceof SyncError ? error.code : fallback;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
