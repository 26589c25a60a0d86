/**
 * A device linked straight to a ReferenceRelay, with no socket and no frames: a SyncTransport
 * for fast engine tests (the relay answers inside the call, so every promise is already
 * settled when it is returned). Messages travel as objects through `relay.connect`, exactly as
 * a transport would hand them over after decoding.
 */
import { SyncError } from '../errors';
import { asRequestId, type DeviceId, type RequestId } from '../ids';
import type { ClientChange, ServerChange } from '../model/changes';
import type { PullPage, PushOutcome, SyncTransport } from '../ports/sync-transport';
import {
  PROTOCOL_VERSIONS,
  type ClientMessage,
  type CommandDeliverMessage,
  type CommandResultMessage,
  type PresenceMessage,
  type ServerMessage,
  type WelcomeMessage,
} from '../protocol/messages';
import { Listeners } from '../client/listeners';
import type { ReferenceRelay, RelayConnection } from './reference-relay';

export interface DirectLinkOptions {
  deviceId: DeviceId | string;
  token: string;
  /** Sent in hello. Default 0. */
  cursor?: number;
}

export class DirectLink implements SyncTransport {
  private readonly connection: RelayConnection;
  private readonly replies = new Map<RequestId, ServerMessage>();
  private nextId = 1;
  private welcomeMessage: WelcomeMessage | null = null;
  private closedWith: { code: number; reason: string } | null = null;
  private readonly live = new Listeners<[ServerChange[]]>();
  private readonly livePages = new Listeners<[PullPage]>();
  private readonly commands = new Listeners<[CommandDeliverMessage]>();
  private readonly results = new Listeners<[CommandResultMessage]>();
  private readonly presence = new Listeners<[PresenceMessage]>();

  /**
   * Connects and says hello. Throws SyncError DIRECT_LINK_REFUSED (details: closeCode, reason)
   * when the relay closes the connection instead of welcoming it.
   */
  constructor(relay: ReferenceRelay, options: DirectLinkOptions) {
    this.connection = relay.connect({
      send: (message) => this.deliver(message),
      close: (code, reason) => {
        this.closedWith = { code, reason };
      },
    });
    this.connection.receive({
      type: 'hello',
      protocolVersions: [...PROTOCOL_VERSIONS],
      codecs: ['none'],
      token: options.token,
      deviceId: options.deviceId,
      cursor: options.cursor ?? 0,
    });
    if (!this.welcomeMessage) {
      throw new SyncError('DIRECT_LINK_REFUSED', 'the relay refused the connection', {
        closeCode: this.closedWith?.code,
        reason: this.closedWith?.reason,
      });
    }
  }

  /** The relay's welcome (check `resync`). */
  get welcome(): WelcomeMessage {
    return this.welcomeMessage!;
  }

  /** The close code and reason when the relay ended the link (revocation, shutdown), else null. */
  get closed(): { code: number; reason: string } | null {
    return this.closedWith;
  }

  async push(changes: ClientChange[]): Promise<PushOutcome> {
    const reply = this.request({ type: 'push', id: this.id(), changes });
    if (reply.type === 'ack') return { accepted: reply.accepted, conflicts: [] };
    if (reply.type === 'conflict') return { accepted: reply.accepted, conflicts: reply.conflicts };
    throw new SyncError('PROTOCOL_UNEXPECTED_REPLY', `unexpected reply ${reply.type}`);
  }

  async pull(cursor: number, limit: number): Promise<PullPage> {
    const reply = this.request({ type: 'pull', id: this.id(), cursor, limit });
    if (reply.type !== 'changes') throw new SyncError('PROTOCOL_UNEXPECTED_REPLY', `unexpected reply ${reply.type}`);
    return { changes: reply.changes, cursor: reply.cursor, hasMore: reply.hasMore };
  }

  onLiveChanges(listener: (changes: ServerChange[]) => void): () => void {
    return this.live.add(listener);
  }

  /** Live pages as the relay sent them (`hasMore`: pull from `cursor`). Returns its remover. */
  onLivePage(listener: (page: PullPage) => void): () => void {
    return this.livePages.add(listener);
  }

  onCommand(listener: (delivery: CommandDeliverMessage) => void): () => void {
    return this.commands.add(listener);
  }

  onCommandResult(listener: (result: CommandResultMessage) => void): () => void {
    return this.results.add(listener);
  }

  onPresence(listener: (presence: PresenceMessage) => void): () => void {
    return this.presence.add(listener);
  }

  /**
   * Sends any client message with an `id` and returns the relay's reply. Throws the reply's
   * code for an `error` reply, DIRECT_LINK_CLOSED when the link is closed.
   */
  request(message: Extract<ClientMessage, { id: RequestId }>): ServerMessage {
    if (this.closedWith) throw new SyncError('DIRECT_LINK_CLOSED', 'the link is closed');
    this.connection.receive(message);
    const reply = this.replies.get(message.id);
    this.replies.delete(message.id);
    if (!reply) throw new SyncError('DIRECT_LINK_CLOSED', `no reply to ${message.type}: the link closed`);
    if (reply.type === 'error') throw new SyncError(reply.code, reply.message);
    return reply;
  }

  /** Sends a message that has no reply (presence.update, command.response). */
  send(message: ClientMessage): void {
    if (this.closedWith) throw new SyncError('DIRECT_LINK_CLOSED', 'the link is closed');
    this.connection.receive(message);
  }

  /** A fresh request id. */
  id(): RequestId {
    return asRequestId(`d${this.nextId++}`);
  }

  /** Disconnects (the relay sees the connection end). Idempotent. */
  close(): void {
    if (this.closedWith) return;
    this.closedWith = { code: 1000, reason: 'closed by the device' };
    this.connection.closed();
  }

  private deliver(message: ServerMessage): void {
    if ('replyTo' in message && message.replyTo !== undefined) {
      this.replies.set(message.replyTo, message);
      return;
    }
    switch (message.type) {
      case 'welcome':
        this.welcomeMessage = message;
        return;
      case 'changes':
        if (message.changes.length > 0) this.live.emit(message.changes);
        this.livePages.emit({ changes: message.changes, cursor: message.cursor, hasMore: message.hasMore });
        return;
      case 'command.deliver':
        this.commands.emit(message);
        return;
      case 'command.result':
        this.results.emit(message);
        return;
      case 'presence':
        this.presence.emit(message);
        return;
      default:
        return;
    }
  }
}
