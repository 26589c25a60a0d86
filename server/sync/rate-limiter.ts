/**
 * Per-device frame rate limit (RelayConfig.ws.rateLimitPerSecond / rateLimitBurst): a token
 * bucket per device, shared by the device's sockets on this process.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token; false when the device is over its limit. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** The buckets of the devices connected to this process. */
export class DeviceRateLimits {
  private readonly buckets = new Map<string, { bucket: TokenBucket; users: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  /** The device's bucket; call `release` once per `acquire` when the socket ends. */
  acquire(deviceId: string): TokenBucket {
    let entry = this.buckets.get(deviceId);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.perSecond, this.burst), users: 0 };
      this.buckets.set(deviceId, entry);
    }
    entry.users++;
    return entry.bucket;
  }

  release(deviceId: string): void {
    const entry = this.buckets.get(deviceId);
    if (entry && --entry.users <= 0) this.buckets.delete(deviceId);
  }
}
