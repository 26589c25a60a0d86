/**
 * The page's live side: core's RelayLiveClient over the browser's WebSocket (the relay's own
 * protocol, fflate deflate), plus what the views need of it: the presence of each device, and
 * the state of each command this page sent (queued, delivered, progress, done, failed with the
 * coded error, expired) as the command queue reports it.
 */
import { RelayLiveClient, type LiveStatus, type WebSocketLike } from '../../../core/client/relay-live-client';
import type { ServerChange } from '../../../core/model/changes';
import type { PresenceState, RemoteCommand } from '../../../core/protocol/messages';

export interface Presence {
  state: PresenceState;
  activeTaskId?: string;
}

export type CommandState = 'sending' | 'queued' | 'delivered' | 'progress' | 'done' | 'failed' | 'expired';

export interface SentCommand {
  /** Local id until the relay names it. */
  key: string;
  commandId?: string;
  targetDeviceId: string;
  command: RemoteCommand;
  state: CommandState;
  error?: { code: string; message: string };
  result?: unknown;
  sentAt: number;
}

/** Final states: nothing more will happen to the command. */
export const FINAL_STATES: ReadonlySet<CommandState> = new Set(['done', 'failed', 'expired']);

export class LiveLink {
  readonly client: RelayLiveClient;
  private readonly presence = new Map<string, Presence>();
  private readonly commands: SentCommand[] = [];
  private readonly early = new Map<string, { state: CommandState; error?: SentCommand['error']; result?: unknown }>();
  private readonly listeners = new Set<() => void>();
  private nextKey = 1;

  constructor(options: { deviceId: string; getToken(): Promise<string> }) {
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    this.client = new RelayLiveClient({
      url: `${scheme}//${location.host}/v1/sync`,
      deviceId: options.deviceId,
      getToken: options.getToken,
      createSocket: (url) => new WebSocket(url) as unknown as WebSocketLike,
      backoff: { initialMs: 500, maxMs: 15_000 },
    });
    this.client.onPresence((p) => {
      this.presence.set(p.deviceId, p.activeTaskId === undefined ? { state: p.state } : { state: p.state, activeTaskId: p.activeTaskId });
      this.changed();
    });
    this.client.onConnected(() => {
      // Presence is re-announced by the relay after a reconnect; start from a clean slate.
      this.presence.clear();
      this.changed();
    });
    this.client.onStatus(() => this.changed());
    this.client.onCommandResult((r) => {
      const entry = this.commands.find((c) => c.commandId === r.commandId);
      const update = { state: r.status as CommandState, error: r.error, result: r.result };
      if (!entry) {
        this.early.set(r.commandId, update);
        return;
      }
      if (FINAL_STATES.has(entry.state)) return;
      Object.assign(entry, update);
      this.changed();
    });
    this.client.start();
  }

  get status(): LiveStatus {
    return this.client.status;
  }

  presenceOf(deviceId: string): Presence | undefined {
    return this.presence.get(deviceId);
  }

  /** Commands sent from this page, newest first. */
  get sent(): readonly SentCommand[] {
    return this.commands;
  }

  /** Re-render when presence, commands or the connection change. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onChanges(listener: (changes: ServerChange[]) => void): () => void {
    return this.client.onLiveChanges(listener);
  }

  /** Queues a command for a device; its state follows in `sent`. */
  async send(targetDeviceId: string, command: RemoteCommand): Promise<SentCommand> {
    const entry: SentCommand = { key: `c${this.nextKey++}`, targetDeviceId, command, state: 'sending', sentAt: Date.now() };
    this.commands.unshift(entry);
    this.changed();
    try {
      const queued = await this.client.sendCommand(targetDeviceId, command);
      entry.commandId = queued.commandId;
      const early = this.early.get(queued.commandId);
      this.early.delete(queued.commandId);
      Object.assign(entry, early ?? { state: 'queued' });
    } catch (error) {
      entry.state = 'failed';
      entry.error = { code: (error as { code?: string }).code ?? 'CLIENT_ERROR', message: (error as Error).message };
    }
    this.changed();
    return entry;
  }

  close(): void {
    this.client.close();
    this.listeners.clear();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
