/**
 * A headless device for the web page's tests and benchmarks: signed in through the relay's
 * real login route, talking the real device protocol through core's RooCloudClient. It pushes
 * tasks (task.meta + ui stream entries, as a device's change detection would) and answers
 * remote commands with a handler the test gives.
 */
import { asTaskId } from '../../core/ids';
import type { ClientChange, TaskSource } from '../../core/model/changes';
import { hashJson } from '../../core/model/hash';
import { HybridLogicalClock } from '../../core/model/hlc';
import { RooCloudClient } from '../../core/node/client/roo-cloud-client';
import type { CommandDeliverMessage } from '../../core/protocol/messages';
import { api } from '../server/http/relay-fixture';

export interface HeadlessDeviceOptions {
  /** The relay's base URL (`http://127.0.0.1:<port>`). */
  relayUrl: string;
  email: string;
  password: string;
  name: string;
  /** Start the socket now (default true); false leaves the device offline until `connect()`. */
  online?: boolean;
  /** The kind it registers as (default `vscode`, a device that runs the assistant). */
  kind?: 'vscode' | 'cli';
}

/** A ui message as the assistant writes it (ClineMessage). */
export type UiMessage = Record<string, unknown> & { ts: number; type: 'ask' | 'say' };

export class HeadlessDevice {
  private clientSeq = 0;
  private readonly clock: HybridLogicalClock;
  private constructor(
    readonly deviceId: string,
    readonly client: RooCloudClient,
  ) {
    this.clock = new HybridLogicalClock(deviceId);
  }

  static async signIn(options: HeadlessDeviceOptions): Promise<HeadlessDevice> {
    const res = await api<{ deviceId: string; accessToken: string }>({ url: options.relayUrl }, 'POST', '/v1/auth/login', {
      body: { email: options.email, password: options.password, device: { name: options.name, kind: options.kind ?? 'vscode', platform: 'linux' } },
    });
    if (res.status !== 200) throw new Error(`device sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
    const { deviceId, accessToken } = res.body;
    const client = new RooCloudClient({
      url: `${options.relayUrl.replace(/^http/, 'ws')}/v1/sync`,
      deviceId,
      getToken: async () => accessToken,
      getCursor: () => 0,
      requestTimeoutMs: 10_000,
      pingIntervalMs: 0,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const device = new HeadlessDevice(deviceId, client);
    if (options.online ?? true) await device.connect();
    return device;
  }

  /** Starts the socket and resolves at its welcome. */
  async connect(): Promise<void> {
    if (this.client.isOnline) return;
    let remove: (() => void) | undefined;
    const online = new Promise<void>((resolve) => (remove = this.client.onConnected(() => resolve())));
    this.client.start();
    try {
      await online;
    } finally {
      remove?.();
    }
  }

  /** Pushes a task's metadata and its ui messages in one push. */
  async pushTask(task: { source?: TaskSource; taskId: string; meta: Record<string, unknown>; messages?: UiMessage[] }): Promise<void> {
    const source = task.source ?? 'roo-code';
    const changes: ClientChange[] = [this.metaChange(source, task.taskId, task.meta)];
    for (const message of task.messages ?? []) changes.push(this.messageChange(source, task.taskId, message));
    await this.push(changes);
  }

  /** Pushes many tasks (metadata only) in batches. */
  async pushTasks(tasks: ReadonlyArray<{ taskId: string; meta: Record<string, unknown>; source?: TaskSource }>, batch = 500): Promise<void> {
    for (let i = 0; i < tasks.length; i += batch) {
      await this.push(tasks.slice(i, i + batch).map((t) => this.metaChange(t.source ?? 'roo-code', t.taskId, t.meta)));
    }
  }

  /** Pushes one ui message (new, or a rewrite of the message with the same ts). */
  async pushMessage(taskId: string, message: UiMessage, source: TaskSource = 'roo-code'): Promise<void> {
    await this.push([this.messageChange(source, taskId, message)]);
  }

  /** Answers every command delivered to this device with what `handler` returns (or throws). */
  answerCommands(handler: (delivery: CommandDeliverMessage) => Promise<unknown> | unknown): () => void {
    return this.client.onCommand((delivery) => {
      void (async () => {
        try {
          const result = await handler(delivery);
          await this.client.sendCommandResponse(delivery.commandId, 'done', result);
        } catch (error) {
          const code = (error as { code?: string }).code ?? 'COMMAND_FAILED';
          await this.client.sendCommandResponse(delivery.commandId, 'failed', undefined, { code, message: (error as Error).message });
        }
      })();
    });
  }

  close(): Promise<void> {
    return this.client.close();
  }

  private async push(changes: ClientChange[]): Promise<void> {
    const outcome = await this.client.push(changes);
    if (outcome.conflicts.length > 0) throw new Error(`push conflicted: ${JSON.stringify(outcome.conflicts)}`);
  }

  private metaChange(source: TaskSource, taskId: string, meta: Record<string, unknown>): ClientChange {
    const clocks: Record<string, string> = {};
    for (const field of Object.keys(meta)) clocks[field] = this.clock.now();
    return { clientSeq: ++this.clientSeq, baseSeq: null, body: { type: 'task.meta', source, taskId: asTaskId(taskId), fields: meta, clocks } };
  }

  private messageChange(source: TaskSource, taskId: string, message: UiMessage): ClientChange {
    return {
      clientSeq: ++this.clientSeq,
      baseSeq: null,
      body: { type: 'stream.put', source, taskId: asTaskId(taskId), stream: 'ui', key: `${message.ts}:0`, hash: hashJson(message), entry: message },
    };
  }
}
