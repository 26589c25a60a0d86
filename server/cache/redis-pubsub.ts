/**
 * PubSub adapter on Redis (ioredis): how several relay processes behind a load balancer fan
 * changes out to each other's devices. Publishing uses one connection, listening a separate
 * subscriber connection. Channels carry a per-deployment prefix. After a reconnect the
 * adapter resubscribes every channel it holds before it reports healthy again; while Redis is
 * down publish and subscribe fail at once with PUBSUB_UNAVAILABLE (subscriptions made before
 * the outage are kept and restored; a caller that failed to subscribe retries when
 * `onHealthChange` says healthy).
 *
 * The PUBLISHes of one tick go to Redis together: each is queued and the queue is sent as one
 * pipeline (one write, one round trip) at the end of the tick, or at once when it holds
 * `MAX_PUBLISH_BATCH`: a relay committing a group of pushes fans them out in a few writes
 * instead of one round trip each, and a large group starts reaching the other relays before
 * its last publish is queued. Order is kept; each publish still resolves or fails on its own.
 */
import type { Redis } from 'ioredis';
import { SyncError } from '../../core/errors';
import { silentLogger, type Logger } from '../observability/logger';
import { CacheErrorCode, checkChannel } from './cache-errors';
import { HealthSignal } from './health-signal';
import type { PubSub, Unsubscribe } from './ports';
import { asCoded, createRedisClient, isReady, quitClient, watchClient, withTimeout, type RedisClientOptions } from './redis-client';

type Listener = (message: string) => void;

/** Most PUBLISHes in one pipeline: a full one is sent at once, the rest at the end of the tick. */
export const MAX_PUBLISH_BATCH = 64;

interface QueuedPublish {
  channel: string;
  message: string;
  resolve(): void;
  reject(error: unknown): void;
}

export interface RedisPubSubOptions extends RedisClientOptions {
  /** Redis URL; the adapter creates and owns both connections. Or give `publisher` and `subscriber`. */
  url?: string;
  /** A client the caller owns, used for PUBLISH. */
  publisher?: Redis;
  /** A client the caller owns, used only for SUBSCRIBE (it enters subscriber mode). */
  subscriber?: Redis;
  /** Prepended to every channel, one per deployment. Default `roo-sync:`. */
  channelPrefix?: string;
  /** Longest wait for one command. Default 1,000 ms. */
  opTimeoutMs?: number;
  logger?: Logger;
}

export class RedisPubSub implements PubSub {
  readonly channelPrefix: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly ownsClients: boolean;
  private readonly opTimeoutMs: number;
  private readonly logger: Logger;
  private readonly health: HealthSignal;
  private readonly unwatch: Array<() => void> = [];
  /** Full channel name -> listeners. A channel is in this map exactly while it should be subscribed. */
  private readonly channels = new Map<string, Set<Listener>>();
  /** Full channel name -> the SUBSCRIBE in flight for it. */
  private readonly pending = new Map<string, Promise<void>>();
  /** True while channels are being re-established after a reconnect. */
  private resubscribing = false;
  /** Bumped per connection of the subscriber, so a stale resubscribe does not mark health. */
  private subscriberEpoch = 0;
  private closing: Promise<void> | undefined;
  /** PUBLISHes waiting for the end of the tick (or for the batch to fill). */
  private outgoing: QueuedPublish[] = [];
  private flushQueued = false;

  constructor(options: RedisPubSubOptions) {
    const injected = options.publisher !== undefined || options.subscriber !== undefined;
    if (injected && (options.publisher === undefined || options.subscriber === undefined || options.url !== undefined)) {
      throw new SyncError(CacheErrorCode.InvalidArgument, 'RedisPubSub needs either url, or both publisher and subscriber');
    }
    if (!injected && options.url === undefined) {
      throw new SyncError(CacheErrorCode.InvalidArgument, 'RedisPubSub needs either url, or both publisher and subscriber');
    }
    if (injected && options.publisher === options.subscriber) {
      throw new SyncError(CacheErrorCode.InvalidArgument, 'RedisPubSub needs two distinct connections');
    }
    this.channelPrefix = options.channelPrefix ?? 'roo-sync:';
    this.ownsClients = !injected;
    const clientOptions = (role: string): RedisClientOptions => ({
      connectionName: `${options.connectionName ?? 'roo-sync'}-${role}`,
      connectTimeoutMs: options.connectTimeoutMs,
      maxReconnectDelayMs: options.maxReconnectDelayMs,
    });
    this.publisher = options.publisher ?? createRedisClient(options.url as string, clientOptions('pub'));
    this.subscriber = options.subscriber ?? createRedisClient(options.url as string, clientOptions('sub'));
    this.opTimeoutMs = options.opTimeoutMs ?? 1_000;
    this.logger = (options.logger ?? silentLogger).child({ component: 'redis-pubsub' });
    this.health = new HealthSignal(this.computeHealth());

    const onMessage = (channel: string, message: string): void => this.dispatch(channel, message);
    this.subscriber.on('message', onMessage);
    this.unwatch.push(() => this.subscriber.off('message', onMessage));
    const onSubscriberReady = (): void => { void this.resubscribe(); };
    this.subscriber.on('ready', onSubscriberReady);
    this.unwatch.push(() => this.subscriber.off('ready', onSubscriberReady));
    this.unwatch.push(watchClient(this.publisher, () => this.refreshHealth(), this.logger, 'pub'));
    this.unwatch.push(watchClient(this.subscriber, () => this.onSubscriberStatus(), this.logger, 'sub'));
  }

  publish(channel: string, message: string): Promise<void> {
    try {
      this.checkOpen();
      checkChannel(channel);
      if (!isReady(this.publisher)) throw this.publisherDown();
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.outgoing.push({ channel: this.channelPrefix + channel, message: String(message), resolve, reject });
      if (this.outgoing.length >= MAX_PUBLISH_BATCH) {
        this.sendPublishes();
      } else if (!this.flushQueued) {
        this.flushQueued = true;
        // After the current task and its promise callbacks: every publish of this tick joins.
        process.nextTick(() => {
          this.flushQueued = false;
          this.sendPublishes();
        });
      }
    });
  }

  /** PUBSUB_UNAVAILABLE for a publish while the publishing connection is not ready. */
  private publisherDown(): SyncError {
    return new SyncError(CacheErrorCode.PubSubUnavailable, `redis is not connected (${this.publisher.status})`, { op: 'publish' });
  }

  /** Sends the queued PUBLISHes as one pipeline (a lone one as a plain command); settles each. */
  private sendPublishes(): void {
    const batch = this.outgoing;
    this.outgoing = [];
    if (batch.length === 0) return;
    const fail = (error: unknown): void => {
      const coded = asCoded(error, CacheErrorCode.PubSubUnavailable, 'publish');
      for (const p of batch) p.reject(coded);
    };
    if (!isReady(this.publisher)) {
      fail(this.publisherDown());
      return;
    }
    const timedOut = (): Error => new SyncError(CacheErrorCode.PubSubUnavailable, `redis publish timed out after ${this.opTimeoutMs} ms`, { op: 'publish' });
    if (batch.length === 1) {
      const only = batch[0]!;
      withTimeout(this.publisher.publish(only.channel, only.message), this.opTimeoutMs, timedOut).then(() => only.resolve(), fail);
      return;
    }
    const pipeline = this.publisher.pipeline();
    for (const p of batch) pipeline.publish(p.channel, p.message);
    withTimeout(pipeline.exec(), this.opTimeoutMs, timedOut).then((results) => {
      batch.forEach((p, i) => {
        const error = results?.[i]?.[0];
        if (error) p.reject(asCoded(error, CacheErrorCode.PubSubUnavailable, 'publish'));
        else p.resolve();
      });
    }, fail);
  }

  async subscribe(channel: string, listener: Listener): Promise<Unsubscribe> {
    this.checkOpen();
    checkChannel(channel);
    const full = this.channelPrefix + channel;
    // Fail fast while down, even on a held channel: "resolved" must mean "delivering now".
    if (!isReady(this.subscriber)) {
      throw new SyncError(CacheErrorCode.PubSubUnavailable, `redis is not connected (${this.subscriber.status})`, { op: 'subscribe' });
    }
    let listeners = this.channels.get(full);
    const isNew = listeners === undefined;
    if (isNew) {
      listeners = new Set();
      this.channels.set(full, listeners);
    }
    const set = listeners as Set<Listener>;
    set.add(listener);
    try {
      // A held channel may not be re-established yet after a reconnect: SUBSCRIBE is idempotent, so ask again.
      const needed = isNew || this.resubscribing;
      await (needed ? this.subscribeChannel(full) : (this.pending.get(full) ?? Promise.resolve()));
    } catch (error) {
      set.delete(listener);
      if (set.size === 0 && this.channels.get(full) === set) this.channels.delete(full);
      throw asCoded(error, CacheErrorCode.PubSubUnavailable, 'subscribe');
    }
    let active = true;
    return async () => {
      if (!active) return;
      active = false;
      set.delete(listener);
      if (set.size > 0 || this.channels.get(full) !== set) return;
      this.channels.delete(full);
      if (this.closing || !isReady(this.subscriber)) return;
      try {
        await withTimeout(this.subscriber.unsubscribe(full), this.opTimeoutMs, () => new Error('unsubscribe timed out'));
      } catch (error) {
        // The listener is gone either way; a stray message on this channel is dropped.
        this.logger.debug('redis unsubscribe failed', { channel, error });
      }
    };
  }

  healthy(): boolean {
    return this.closing === undefined && this.health.value;
  }

  onHealthChange(listener: (healthy: boolean) => void): () => void {
    return this.health.on(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const remove of this.unwatch) remove();
    this.health.set(false);
    this.health.clear();
    const held = [...this.channels.keys()];
    this.channels.clear();
    if (this.ownsClients) {
      await Promise.all([quitClient(this.publisher), quitClient(this.subscriber)]);
    } else if (held.length > 0 && isReady(this.subscriber)) {
      await withTimeout(this.subscriber.unsubscribe(...held), this.opTimeoutMs, () => new Error('unsubscribe timed out')).catch(() => undefined);
    }
  }

  private subscribeChannel(full: string): Promise<void> {
    const attempt = withTimeout(this.subscriber.subscribe(full), this.opTimeoutMs, () =>
      new SyncError(CacheErrorCode.PubSubUnavailable, `redis subscribe timed out after ${this.opTimeoutMs} ms`, { op: 'subscribe' }))
      .then(() => undefined)
      .finally(() => { if (this.pending.get(full) === attempt) this.pending.delete(full); });
    this.pending.set(full, attempt);
    return attempt;
  }

  /** On every (re)connection of the subscriber: SUBSCRIBE all held channels, then report healthy. */
  private async resubscribe(): Promise<void> {
    if (this.closing) return;
    const epoch = ++this.subscriberEpoch;
    const held = [...this.channels.keys()];
    // Channels may all have been left while disconnected: then there is nothing to wait for.
    this.resubscribing = held.length > 0;
    if (held.length === 0) {
      this.refreshHealth();
      return;
    }
    this.refreshHealth();
    try {
      await withTimeout(this.subscriber.subscribe(...held), this.opTimeoutMs, () => new Error('resubscribe timed out'));
      if (epoch !== this.subscriberEpoch) return;
      this.resubscribing = false;
      this.logger.info('redis channels resubscribed', { channels: held.length });
    } catch (error) {
      if (epoch !== this.subscriberEpoch) return;
      // Stay unhealthy; the next 'ready' tries again. Force one if the connection looks fine.
      this.logger.warn('redis resubscribe failed', { error });
      if (isReady(this.subscriber)) this.subscriber.disconnect(true);
    }
    this.refreshHealth();
  }

  private onSubscriberStatus(): void {
    // A connection that is not ready has lost its subscriptions; 'ready' re-establishes them.
    if (!isReady(this.subscriber) && this.channels.size > 0) this.resubscribing = true;
    this.refreshHealth();
  }

  private dispatch(fullChannel: string, message: string): void {
    const listeners = this.channels.get(fullChannel);
    if (!listeners) return;
    for (const listener of [...listeners]) {
      try {
        listener(message);
      } catch (error) {
        this.logger.error('pub/sub listener threw', { channel: fullChannel.slice(this.channelPrefix.length), error });
      }
    }
  }

  private computeHealth(): boolean {
    return isReady(this.publisher) && isReady(this.subscriber) && !this.resubscribing;
  }

  private refreshHealth(): void {
    if (this.closing) return;
    const healthy = this.computeHealth();
    if (healthy === this.health.value) return;
    if (healthy) this.logger.info('redis pub/sub connected');
    else this.logger.warn('redis pub/sub unavailable', { publisher: this.publisher.status, subscriber: this.subscriber.status });
    this.health.set(healthy);
  }

  private checkOpen(): void {
    if (this.closing) throw new SyncError(CacheErrorCode.PubSubClosed, 'pub/sub is closed');
  }
}
