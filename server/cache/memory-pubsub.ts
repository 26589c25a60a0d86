/**
 * In-process PubSub adapter. Instances that share one `MemoryPubSubHub` see each other's
 * messages (several relays in one test process); by default each instance has its own hub.
 * Delivery is asynchronous, like Redis: a listener never runs inside `publish()`.
 */
import { SyncError } from '../../core/errors';
import { silentLogger, type Logger } from '../observability/logger';
import { CacheErrorCode, checkChannel } from './cache-errors';
import type { PubSub, Unsubscribe } from './ports';

type Listener = (message: string) => void;

/** The shared "server" of in-process pub/sub: channel -> listeners of every attached instance. */
export class MemoryPubSubHub {
  private readonly channels = new Map<string, Set<Listener>>();

  /** Listeners registered on `channel` across all instances. */
  listenerCount(channel: string): number {
    return this.channels.get(channel)?.size ?? 0;
  }

  add(channel: string, listener: Listener): void {
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(listener);
  }

  remove(channel: string, listener: Listener): void {
    const set = this.channels.get(channel);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) this.channels.delete(channel);
  }

  /** Delivers on a later microtask; returns how many listeners will receive it. */
  deliver(channel: string, message: string): number {
    const set = this.channels.get(channel);
    if (!set || set.size === 0) return 0;
    const targets = [...set];
    queueMicrotask(() => {
      for (const listener of targets) listener(message);
    });
    return targets.length;
  }
}

export interface MemoryPubSubOptions {
  /** Share one hub between instances that should hear each other. Default: a hub of its own. */
  hub?: MemoryPubSubHub;
  /** Told about listeners that throw. */
  logger?: Logger;
}

export class MemoryPubSub implements PubSub {
  private readonly hub: MemoryPubSubHub;
  private readonly logger: Logger;
  /** This instance's registrations, so close() removes exactly its own. */
  private readonly own = new Set<{ channel: string; wrapped: Listener }>();
  private closed = false;

  constructor(options: MemoryPubSubOptions = {}) {
    this.hub = options.hub ?? new MemoryPubSubHub();
    this.logger = options.logger ?? silentLogger;
  }

  async publish(channel: string, message: string): Promise<void> {
    if (this.closed) throw new SyncError(CacheErrorCode.PubSubClosed, 'pub/sub is closed');
    checkChannel(channel);
    this.hub.deliver(channel, String(message));
  }

  async subscribe(channel: string, listener: Listener): Promise<Unsubscribe> {
    if (this.closed) throw new SyncError(CacheErrorCode.PubSubClosed, 'pub/sub is closed');
    checkChannel(channel);
    const wrapped: Listener = (message) => {
      try {
        listener(message);
      } catch (error) {
        this.logger.error('pub/sub listener threw', { channel, error });
      }
    };
    const registration = { channel, wrapped };
    this.own.add(registration);
    this.hub.add(channel, wrapped);
    return async () => {
      if (!this.own.delete(registration)) return;
      this.hub.remove(channel, wrapped);
    };
  }

  healthy(): boolean {
    return !this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { channel, wrapped } of this.own) this.hub.remove(channel, wrapped);
    this.own.clear();
  }
}
