/**
 * Fan-out across relay processes (DESIGN.md "Server"): which devices are connected here, and
 * one PubSub channel per user (`sync:user:<userId>`) that every process holding a socket of
 * that user listens on.
 *
 * Changes are published for the other processes first, then delivered to this process's own
 * sockets directly; a process ignores what it published itself. So a process whose Redis is gone
 * still serves its own devices, and devices elsewhere catch up by pull (their cursor).
 * A subscription that failed while pub/sub was down is retried when pub/sub reports healthy.
 */
import { randomUUID } from 'node:crypto';
import type { ServerChange } from '../../core/model/changes';
import type { DeviceId, TaskId } from '../../core/ids';
import type { SharedFrameBody } from '../../core/protocol/frame';
import type { CommandResultMessage, PresenceMessage, PresenceState, ServerMessage } from '../../core/protocol/messages';
import type { PubSub, Unsubscribe } from '../cache/ports';
import { changesEnvelopeText, splitChangesEnvelope } from './changes-envelope';
import type { Logger } from '../observability/logger';
import type { RelayMetrics } from '../observability/metrics';

/** What the hub needs of one authenticated socket. */
export interface HubConnection {
  readonly userId: string;
  readonly deviceId: string;
  /** Connection order in this process: commands go to a device's newest connection. */
  readonly order: number;
  presence: { state: PresenceState; activeTaskId?: string };
  send(message: ServerMessage): void;
  /** Sends a live page (subject to the socket's slow-consumer rule). */
  sendLive(page: LivePage): void;
  close(code: number, reason: string): void;
}

/**
 * One live `changes` message as every receiving socket of this process sends it: serialised
 * once, and compressed once per codec (`shared`) for the sockets that do not use their
 * connection context for it.
 */
export interface LivePage {
  /** JSON text of the ChangesMessage. */
  readonly json: string;
  /** Where a device that cannot take this page pulls from: the seq before its first change. */
  readonly pullFrom: number;
  readonly shared: SharedFrameBody;
  /** The WebSocket frames of `shared`'s frames (outbound-frames.ts), made once for every socket. */
  wire?: Map<Uint8Array, Buffer>;
}

/** Live changes inline in a pub/sub message up to this many JSON characters; larger ones are pulled. */
const MAX_INLINE_CHANGES_CHARS = 256 * 1024;

type Envelope =
  | { t: 'changes'; from: string; first: number; last: number; at: number; changes?: ServerChange[] }
  | { t: 'presence'; deviceId: string; state: PresenceState; activeTaskId?: string; to?: string }
  | { t: 'presence.query'; from: string }
  | { t: 'command.pending'; target: string }
  | { t: 'command.result'; sender: string; final: boolean; message: CommandResultMessage };

export interface SyncHubOptions {
  pubsub: PubSub;
  logger: Logger;
  metrics?: RelayMetrics;
  /** A command for `deviceId` (connected here) is waiting: deliver it. */
  onCommandPending: (userId: string, deviceId: string) => void;
  /** The final result of a command was handed to its sender's socket here (mark it told). */
  onResultTold: (commandId: string) => void;
}

interface UserEntry {
  devices: Map<string, Set<HubConnection>>;
  unsubscribe?: Unsubscribe;
  subscribing?: Promise<void>;
}

export function userChannel(userId: string): string {
  return `sync:user:${userId}`;
}

export class SyncHub {
  /** Distinguishes this process's own messages on the channels. */
  readonly origin = randomUUID();
  private readonly users = new Map<string, UserEntry>();
  private readonly byDevice = new Map<string, Set<HubConnection>>();
  private readonly removeHealthListener?: () => void;
  /**
   * Per user, the span of changes committed here whose fan-out could not be published (pub/sub
   * down): announced again when pub/sub is healthy, so devices on other processes pull them.
   */
  private readonly unannounced = new Map<string, { first: number; last: number }>();
  private closed = false;

  constructor(private readonly options: SyncHubOptions) {
    this.removeHealthListener = options.pubsub.onHealthChange?.((healthy) => {
      if (!healthy) return;
      this.resubscribeMissing();
      // What other relays published while pub/sub was down is gone: every device here pulls
      // (an empty page with hasMore; the device pulls from its own cursor).
      this.askEveryoneToPull();
      // And what this relay could not publish is announced now: another relay that became
      // healthy first already asked its devices to pull, before these were committed.
      this.announceUnpublished();
    });
  }

  /** Local sockets of a device. */
  connectionsOf(deviceId: string): ReadonlySet<HubConnection> {
    return this.byDevice.get(deviceId) ?? new Set();
  }

  /** The device's newest local socket, if it is connected here. */
  newestConnection(deviceId: string): HubConnection | undefined {
    let newest: HubConnection | undefined;
    for (const c of this.connectionsOf(deviceId)) if (!newest || c.order > newest.order) newest = c;
    return newest;
  }

  /** Authenticated sockets in this process. */
  get connectionCount(): number {
    let n = 0;
    for (const set of this.byDevice.values()) n += set.size;
    return n;
  }

  /**
   * Registers an authenticated socket, subscribes to its user's channel (resolves once subscribed
   * or once subscribing failed: a failure is retried when pub/sub recovers). Returns whether the
   * device was offline in this process before.
   */
  async join(connection: HubConnection): Promise<boolean> {
    let user = this.users.get(connection.userId);
    if (!user) {
      user = { devices: new Map() };
      this.users.set(connection.userId, user);
    }
    let set = user.devices.get(connection.deviceId);
    const wasOffline = !set || set.size === 0;
    if (!set) {
      set = new Set();
      user.devices.set(connection.deviceId, set);
      this.byDevice.set(connection.deviceId, set);
    }
    set.add(connection);
    await this.subscribe(connection.userId, user);
    return wasOffline;
  }

  /** Forgets a socket. Returns true when it was the device's last socket here. */
  leave(connection: HubConnection): boolean {
    const user = this.users.get(connection.userId);
    const set = user?.devices.get(connection.deviceId);
    if (!user || !set || !set.delete(connection)) return false;
    if (set.size > 0) return false;
    user.devices.delete(connection.deviceId);
    this.byDevice.delete(connection.deviceId);
    if (user.devices.size === 0) {
      this.users.delete(connection.userId);
      const unsubscribe = user.unsubscribe;
      user.unsubscribe = undefined;
      void unsubscribe?.().catch(() => undefined);
      // A subscription still in flight is dropped when it lands (see subscribe).
    }
    return true;
  }

  /**
   * Sends committed changes to every other device of the user, here and on other processes
   * (serialised once for every socket and the other processes).
   */
  publishChanges(userId: string, fromDeviceId: string, changes: ServerChange[], receivedAt: number): void {
    if (changes.length === 0) return;
    const first = changes[0]!.seq;
    const last = changes[changes.length - 1]!.seq;
    // Serialised whole only when a device here takes them; for pub/sub alone, only as far as
    // the inline limit (a migration's pushes, with no other device online, are mostly larger).
    const local = this.hasOther(userId, fromDeviceId);
    const inline = local ? JSON.stringify(changes) : jsonUpTo(changes, MAX_INLINE_CHANGES_CHARS);
    const fields = { t: 'changes', from: fromDeviceId, first, last, at: receivedAt } as const;
    const text = changesEnvelopeText(fields, inline !== undefined && inline.length <= MAX_INLINE_CHANGES_CHARS ? inline : undefined);
    // Published before the local sockets are written: the other processes then deliver in
    // parallel with this one, instead of after its socket writes (a group commit of many pushes
    // has many of them).
    this.publish(userId, text, () => this.noteUnannounced(userId, first, last));
    if (local) this.deliverChanges(userId, fromDeviceId, { first, last, json: inline }, receivedAt);
  }

  /** Tells the user's other devices (here and elsewhere) about a device's presence. */
  broadcastPresence(userId: string, deviceId: string, presence: HubConnection['presence']): void {
    const message = presenceMessage(deviceId, presence);
    this.forEachOther(userId, deviceId, (c) => c.send(message));
    this.publish(userId, JSON.stringify({ t: 'presence', deviceId, ...presence } satisfies Envelope));
  }

  /** Tells a newcomer who else of its user is connected, here and (by asking) elsewhere. */
  introduce(connection: HubConnection): void {
    const user = this.users.get(connection.userId);
    for (const [deviceId, set] of user?.devices ?? []) {
      if (deviceId === connection.deviceId || set.size === 0) continue;
      const presence = [...set][set.size - 1]!.presence;
      connection.send(presenceMessage(deviceId, presence));
    }
    this.publish(connection.userId, JSON.stringify({ t: 'presence.query', from: connection.deviceId } satisfies Envelope));
  }

  /** A command for `targetDeviceId` was queued: whichever process holds the target delivers it. */
  commandPending(userId: string, targetDeviceId: string): void {
    if (this.byDevice.has(targetDeviceId)) this.options.onCommandPending(userId, targetDeviceId);
    this.publish(userId, JSON.stringify({ t: 'command.pending', target: targetDeviceId } satisfies Envelope));
  }

  /**
   * Hands a command result to its sender's sockets here and elsewhere. A final result that
   * reaches a socket is marked told (`onResultTold`); one no process could hand over waits in
   * the queue until the sender connects.
   */
  commandResult(userId: string, senderDeviceId: string, message: CommandResultMessage, final: boolean): void {
    this.deliverResult(senderDeviceId, message, final);
    this.publish(userId, JSON.stringify({ t: 'command.result', sender: senderDeviceId, final, message } satisfies Envelope));
  }

  /** Closes every local socket of a device (revocation). */
  closeDevice(deviceId: string, code: number, reason: string): void {
    for (const c of [...this.connectionsOf(deviceId)]) c.close(code, reason);
  }

  /** Unsubscribes everything. Sockets are closed by their owner. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.removeHealthListener?.();
    const users = [...this.users.values()];
    this.users.clear();
    this.byDevice.clear();
    await Promise.all(users.map((u) => u.unsubscribe?.().catch(() => undefined)));
  }

  // ------------------------------------------------------------ internals

  /** `changes.json` is the JSON text of the changes `first..last`; without it (too large to carry) the devices are told to pull. */
  private deliverChanges(userId: string, fromDeviceId: string, changes: { first: number; last: number; json?: string }, receivedAt: number): void {
    let page: LivePage | undefined;
    this.forEachOther(userId, fromDeviceId, (c) => {
      page ??= {
        json:
          changes.json === undefined
            ? // An empty page just before them tells the device to pull.
              `{"type":"changes","changes":[],"cursor":${changes.first - 1},"hasMore":true}`
            : `{"type":"changes","changes":${changes.json},"cursor":${changes.last},"hasMore":false}`,
        pullFrom: changes.first - 1,
        shared: {},
      };
      c.sendLive(page);
    });
    if (page) this.options.metrics?.syncLatency.observe((Date.now() - receivedAt) / 1000);
  }

  private deliverResult(senderDeviceId: string, message: CommandResultMessage, final: boolean): void {
    const set = this.byDevice.get(senderDeviceId);
    if (!set || set.size === 0) return;
    for (const c of set) c.send(message);
    if (final) this.options.onResultTold(message.commandId);
  }

  /** Whether a device of the user other than `deviceId` has a socket here. */
  private hasOther(userId: string, deviceId: string): boolean {
    for (const [other, set] of this.users.get(userId)?.devices ?? []) if (other !== deviceId && set.size > 0) return true;
    return false;
  }

  private forEachOther(userId: string, deviceId: string, fn: (c: HubConnection) => void): void {
    const user = this.users.get(userId);
    if (!user) return;
    for (const [other, set] of user.devices) {
      if (other === deviceId) continue;
      for (const c of set) fn(c);
    }
  }

  private publish(userId: string, text: string, onLost?: () => void): void {
    if (this.closed) return;
    // `<origin>|<json>`: a process skips its own messages without parsing them.
    this.options.pubsub.publish(userChannel(userId), `${this.origin}|${text}`).catch((err: unknown) => {
      // Devices on other processes catch up by pull (asked when pub/sub is back); this process's
      // own were served directly.
      this.options.logger.debug('fan-out not published; other relays catch up by pull', { err });
      onLost?.();
    });
  }

  private noteUnannounced(userId: string, first: number, last: number): void {
    const span = this.unannounced.get(userId);
    this.unannounced.set(userId, span ? { first: Math.min(span.first, first), last: Math.max(span.last, last) } : { first, last });
  }

  /** Announces every span of changes whose fan-out was lost, without the changes: the devices pull them. */
  private announceUnpublished(): void {
    const spans = [...this.unannounced];
    this.unannounced.clear();
    for (const [userId, { first, last }] of spans) {
      // From no device: every device of the user is told (the author pulls its own back, harmlessly).
      const envelope: Envelope = { t: 'changes', from: '', first, last, at: Date.now() };
      this.publish(userId, JSON.stringify(envelope), () => this.noteUnannounced(userId, first, last));
    }
  }

  private async subscribe(userId: string, user: UserEntry): Promise<void> {
    if (user.unsubscribe || this.closed) return;
    user.subscribing ??= (async () => {
      try {
        const unsubscribe = await this.options.pubsub.subscribe(userChannel(userId), (text) => this.receive(userId, text));
        if (this.users.get(userId) !== user || this.closed) {
          await unsubscribe().catch(() => undefined);
          return;
        }
        user.unsubscribe = unsubscribe;
      } catch (err) {
        this.options.logger.warn('user channel not subscribed; retried when pub/sub recovers', { err });
      } finally {
        user.subscribing = undefined;
      }
    })();
    await user.subscribing;
  }

  private askEveryoneToPull(): void {
    for (const connections of this.byDevice.values()) {
      for (const c of connections) c.send({ type: 'changes', changes: [], cursor: 0, hasMore: true });
    }
  }

  private resubscribeMissing(): void {
    for (const [userId, user] of this.users) if (!user.unsubscribe) void this.subscribe(userId, user);
  }

  private receive(userId: string, text: string): void {
    const bar = text.indexOf('|');
    if (bar < 0 || text.slice(0, bar) === this.origin) return;
    let envelope: Envelope;
    // A `changes` message's changes are handed on as they came, not parsed (changes-envelope.ts).
    let changesJson: string | undefined;
    try {
      const split = splitChangesEnvelope(text, bar + 1);
      changesJson = split?.changesJson;
      envelope = JSON.parse(split ? split.fields : text.slice(bar + 1)) as Envelope;
    } catch {
      this.options.logger.warn('malformed fan-out message ignored');
      return;
    }
    if (!envelope || typeof envelope !== 'object') return;
    try {
      switch (envelope.t) {
        case 'changes':
          this.deliverChanges(
            userId,
            envelope.from,
            { first: envelope.first, last: envelope.last, json: changesJson ?? (envelope.changes && JSON.stringify(envelope.changes)) },
            envelope.at,
          );
          return;
        case 'presence': {
          const message = presenceMessage(envelope.deviceId, envelope);
          if (envelope.to !== undefined) {
            for (const c of this.connectionsOf(envelope.to)) c.send(message);
            return;
          }
          this.forEachOther(userId, envelope.deviceId, (c) => c.send(message));
          return;
        }
        case 'presence.query': {
          const user = this.users.get(userId);
          for (const [deviceId, set] of user?.devices ?? []) {
            if (deviceId === envelope.from || set.size === 0) continue;
            const presence = [...set][set.size - 1]!.presence;
            this.publish(userId, JSON.stringify({ t: 'presence', deviceId, ...presence, to: envelope.from } satisfies Envelope));
          }
          return;
        }
        case 'command.pending':
          if (this.byDevice.has(envelope.target)) this.options.onCommandPending(userId, envelope.target);
          return;
        case 'command.result':
          this.deliverResult(envelope.sender, envelope.message, envelope.final);
          return;
      }
    } catch (err) {
      this.options.logger.error('fan-out message failed', { err });
    }
  }
}

function presenceMessage(deviceId: string, presence: { state: PresenceState; activeTaskId?: string }): PresenceMessage {
  const message: PresenceMessage = { type: 'presence', deviceId: deviceId as DeviceId, state: presence.state };
  if (presence.activeTaskId !== undefined) message.activeTaskId = presence.activeTaskId as TaskId;
  return message;
}

/**
 * The JSON text of `changes` (as JSON.stringify gives it), or undefined as soon as it would pass
 * `maxChars`: the changes after that point are never serialised.
 */
export function jsonUpTo(changes: readonly ServerChange[], maxChars: number): string | undefined {
  const parts: string[] = [];
  let length = 1;
  for (const change of changes) {
    const part = JSON.stringify(change);
    length += part.length + 1;
    if (length > maxChars) return undefined;
    parts.push(part);
  }
  return `[${parts.join(',')}]`;
}
