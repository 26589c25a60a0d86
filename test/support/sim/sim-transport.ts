/**
 * SyncTransport of a simulated device: speaks the real protocol messages (hello, push, pull)
 * over a SimNetwork link to the ReferenceRelay. Requests resolve when the simulation delivers
 * their reply; a lost connection rejects them (TRANSPORT_DISCONNECTED), as a real client's
 * would, leaving the outcome of a push in doubt.
 *
 * With the device's outbox, it anchors the outbox after every welcome (`lastClientSeq`), as
 * RooCloudClient does, and refuses pushes (TRANSPORT_OFFLINE) until that is done: a push
 * before it could carry clientSeqs the relay takes for replays.
 */
import { SyncError } from '../../../core/errors';
import { asRequestId, type DeviceId } from '../../../core/ids';
import type { ClientChange, ServerChange } from '../../../core/model/changes';
import type { Outbox } from '../../../core/ports/outbox';
import type { PullPage, PushOutcome, SyncTransport } from '../../../core/ports/sync-transport';
import { PROTOCOL_VERSIONS, type ClientMessage, type ServerMessage } from '../../../core/protocol/messages';
import type { SimLink, SimNetwork } from './sim-network';

interface Waiter {
  resolve(message: ServerMessage): void;
  reject(error: SyncError): void;
}

export class SimTransport implements SyncTransport {
  private link: SimLink | null = null;
  private welcomed = false;
  private nextId = 1;
  private readonly waiters = new Map<string, Waiter>();
  private readonly live = new Set<(changes: ServerChange[]) => void>();
  constructor(
    private readonly network: SimNetwork,
    private readonly deviceId: DeviceId,
    private readonly token: string,
    private readonly getCursor: () => number,
    /** Collects every acceptance the relay reports (for the no-loss check). */
    readonly acknowledged: Array<{ clientSeq: number; seq: number }> = [],
    /** The device's outbox, anchored after every welcome; pushes wait for it. */
    private readonly outbox?: Outbox,
  ) {}

  get connected(): boolean {
    return this.link !== null;
  }

  /** Connected, welcomed and its outbox anchored: pushes go out. */
  get ready(): boolean {
    return this.link !== null && this.welcomed;
  }

  /** Opens a connection and queues hello (the welcome arrives when delivered). */
  connect(): void {
    if (this.link) return;
    const link = this.network.open(this.deviceId, {
      onMessage: (message) => this.onMessage(link, message),
      onClose: () => this.onClose(link),
    });
    this.link = link;
    this.welcomed = false;
    const hello: ClientMessage = {
      type: 'hello',
      protocolVersions: [...PROTOCOL_VERSIONS],
      codecs: ['none'],
      token: this.token,
      deviceId: this.deviceId,
      cursor: this.getCursor(),
    };
    link.send(hello);
  }

  /** Drops the connection (frames in flight are lost). */
  disconnect(): void {
    if (this.link) this.network.close(this.link);
  }

  async push(changes: ClientChange[]): Promise<PushOutcome> {
    if (this.outbox && !this.welcomed) throw new SyncError('TRANSPORT_OFFLINE', 'not welcomed (outbox not anchored) yet');
    const reply = await this.request({ type: 'push', id: this.newId(), changes });
    if (reply.type === 'ack') {
      this.acknowledged.push(...reply.accepted);
      return { accepted: reply.accepted, conflicts: [] };
    }
    if (reply.type === 'conflict') {
      this.acknowledged.push(...reply.accepted);
      return { accepted: reply.accepted, conflicts: reply.conflicts };
    }
    throw new SyncError('TRANSPORT_UNEXPECTED_REPLY', `push answered with ${reply.type}`);
  }

  async pull(cursor: number, limit: number): Promise<PullPage> {
    const reply = await this.request({ type: 'pull', id: this.newId(), cursor, limit });
    if (reply.type !== 'changes') throw new SyncError('TRANSPORT_UNEXPECTED_REPLY', `pull answered with ${reply.type}`);
    return { changes: reply.changes, cursor: reply.cursor, hasMore: reply.hasMore };
  }

  onLiveChanges(listener: (changes: ServerChange[]) => void): () => void {
    this.live.add(listener);
    return () => this.live.delete(listener);
  }

  private newId() {
    return asRequestId(`r${this.nextId++}`);
  }

  private request(message: Extract<ClientMessage, { id: unknown }>): Promise<ServerMessage> {
    const link = this.link;
    if (!link) return Promise.reject(new SyncError('TRANSPORT_OFFLINE', 'not connected'));
    return new Promise((resolve, reject) => {
      this.waiters.set(message.id, { resolve, reject });
      link.send(message);
    });
  }

  private onMessage(link: SimLink, message: ServerMessage): void {
    if (link !== this.link) return;
    if (message.type === 'welcome') {
      const outbox = this.outbox;
      if (!outbox || message.lastClientSeq === undefined) {
        this.welcomed = true;
        return;
      }
      const mark = message.lastClientSeq;
      // The anchor is a durable write: a simulated crash may refuse it (then the link goes).
      void Promise.resolve()
        .then(() => outbox.anchor(mark))
        .then(
          () => {
            if (link === this.link) this.welcomed = true;
          },
          () => {
            if (link === this.link) this.disconnect();
          },
        );
      return;
    }
    if (message.type === 'changes' && message.replyTo === undefined) {
      for (const listener of this.live) listener(message.changes);
      return;
    }
    const replyTo = 'replyTo' in message ? message.replyTo : undefined;
    if (replyTo === undefined) return;
    const waiter = this.waiters.get(replyTo);
    if (!waiter) return;
    this.waiters.delete(replyTo);
    if (message.type === 'error') waiter.reject(new SyncError(message.code, message.message));
    else waiter.resolve(message);
  }

  private onClose(link: SimLink): void {
    if (link !== this.link) return;
    this.link = null;
    this.welcomed = false;
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    for (const waiter of waiters) waiter.reject(new SyncError('TRANSPORT_DISCONNECTED', 'connection lost'));
  }
}
