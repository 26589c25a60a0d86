/**
 * Ports: key/value cache and pub/sub. Adapters: Redis through ioredis, and in-process (the
 * embedded default, and the fallback that keeps a relay serving when Redis is gone).
 */
export interface Cache {
  get(key: string): Promise<string | null>;
  /** Stores `value` for `ttlSeconds`. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /**
   * Stores `value` for `ttlSeconds` only if `key` holds nothing, atomically; returns the value
   * the key holds afterwards (`value`, or what another writer stored first).
   */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<string>;
  del(...keys: string[]): Promise<void>;
  /** True while the backing service answers. */
  healthy(): boolean;
  /**
   * Calls `listener` whenever `healthy()` flips (for /readyz, the redis_up gauge and logs).
   * Returns the remover. Optional: an adapter that is always healthy may omit it.
   */
  onHealthChange?(listener: (healthy: boolean) => void): () => void;
  /** Idempotent. */
  close(): Promise<void>;
}

export type Unsubscribe = () => Promise<void>;

export interface PubSub {
  publish(channel: string, message: string): Promise<void>;
  /** Resolves once the subscription is active. */
  subscribe(channel: string, listener: (message: string) => void): Promise<Unsubscribe>;
  healthy(): boolean;
  /** Same contract as `Cache.onHealthChange`. */
  onHealthChange?(listener: (healthy: boolean) => void): () => void;
  /** Idempotent. */
  close(): Promise<void>;
}
