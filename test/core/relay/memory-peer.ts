/**
 * A transport-less peer for the reference relay: records what the relay sends and how it
 * closed the connection, so unit tests drive the relay with plain message objects.
 */
import { asDeviceId, asRequestId, asTaskId } from '../../../core/ids';
import type { ChangeBody, ClientChange } from '../../../core/model/changes';
import type { ServerMessage } from '../../../core/protocol/messages';
import type { RelayConnection, ReferenceRelay } from '../../../core/relay/reference-relay';

export class MemoryPeer {
  readonly received: ServerMessage[] = [];
  closedWith: { code: number; reason: string } | null = null;
  readonly connection: RelayConnection;
  private nextId = 1;

  constructor(relay: ReferenceRelay) {
    this.connection = relay.connect({
      send: (message) => this.received.push(message),
      close: (code, reason) => {
        this.closedWith = { code, reason };
      },
    });
  }

  /** The close code the relay ended the connection with, if it did. */
  closeCode(): number | undefined {
    return this.closedWith?.code;
  }

  send(message: unknown): void {
    this.connection.receive(message);
  }

  /** A fresh request id. */
  id(): ReturnType<typeof asRequestId> {
    return asRequestId(`r${this.nextId++}`);
  }

  hello(deviceId: string, token: string, cursor = 0): void {
    this.send({ type: 'hello', protocolVersions: [1], codecs: ['none'], token, deviceId: asDeviceId(deviceId), cursor });
  }

  /** Messages of one type received so far. */
  ofType<T extends ServerMessage['type']>(type: T): Array<Extract<ServerMessage, { type: T }>> {
    return this.received.filter((m): m is Extract<ServerMessage, { type: T }> => m.type === type);
  }

  /** The reply to a request id (throws when there is none). */
  replyTo(id: string): ServerMessage {
    const reply = this.received.find((m) => 'replyTo' in m && m.replyTo === id);
    if (!reply) throw new Error(`no reply to ${id}; got ${JSON.stringify(this.received.map((m) => m.type))}`);
    return reply;
  }

  /** Drops everything received so far. */
  clear(): void {
    this.received.length = 0;
  }
}

/** A task.meta body for entity `task/roo-code/<taskId>` (not mergeable). */
export function metaBody(taskId: string, title = 'x'): ChangeBody {
  return {
    type: 'task.meta',
    source: 'roo-code',
    taskId: asTaskId(taskId),
    fields: { task: title },
    clocks: { task: `000000000000001-000000-dev` },
  };
}

/** A stream.put body (mergeable). */
export function putBody(taskId: string, key: string): ChangeBody {
  return {
    type: 'stream.put',
    source: 'roo-code',
    taskId: asTaskId(taskId),
    stream: 'ui',
    key,
    hash: 'a'.repeat(64),
    entry: { ts: Number(key.split(':')[0]), say: 'text' },
  };
}

export function change(clientSeq: number, body: ChangeBody, baseSeq: number | null = null): ClientChange {
  return { clientSeq, baseSeq, body };
}
