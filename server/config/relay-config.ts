/**
 * The relay's configuration: one typed object, every field documented here once, every
 * default in RELAY_DEFAULTS. Built by `loadRelayConfig` from flags, then environment, then
 * these defaults (see options.ts for the flag and environment variable of each field).
 */
import type { TrustProxySetting } from '../http/trusted-proxies';
import type { LogFormat, LogLevel } from '../observability/logger';

export interface RelayConfig {
  readonly http: {
    /** TCP port of the one HTTP + WebSocket server; 0 picks a free port (tests). */
    readonly port: number;
    /** Interface to bind. 127.0.0.1 by default: expose the relay through a reverse proxy on purpose. */
    readonly host: string;
    /** Largest JSON request body accepted over HTTP, in bytes. */
    readonly maxBodyBytes: number;
    /** Largest blob upload (PUT /v1/blobs/<sha256>), in bytes. */
    readonly maxBlobBytes: number;
    /** A resumable blob upload (PUT with Content-Range) that gets no chunk for this long is discarded, in seconds. */
    readonly blobUploadTtlSeconds: number;
    /**
     * An HTTP connection with no bytes in either direction for this long ends its request: 408
     * HTTP_IDLE_TIMEOUT while the request body is incomplete and no answer has started, else the
     * socket is closed. Upgraded (WebSocket) connections are exempt; a slow upload that keeps
     * sending is not cut. In ms; 0: never.
     */
    readonly idleTimeoutMs: number;
    /** How long a graceful shutdown waits for requests and sockets to finish before closing them, in ms. */
    readonly shutdownGraceMs: number;
    /**
     * Which peers' X-Forwarded-For names the client (login rate limits, audit log): false, the
     * socket's address always; a list of the reverse proxies' addresses and networks (the
     * header read only from them, right to left, skipping their own hops); true, any peer.
     */
    readonly trustProxy: TrustProxySetting;
  };
  readonly database: {
    /** PostgreSQL connection URL (a secret: holds the password). Unset: embedded PGlite in `dataDir`. */
    readonly url: string | undefined;
    /** Directory of the embedded PGlite database (made absolute against the working directory when loaded). */
    readonly dataDir: string;
    /** Most connections in the PostgreSQL pool. */
    readonly poolMax: number;
    /** An idle pooled connection is closed after this many ms. */
    readonly poolIdleTimeoutMs: number;
    /** A query waiting this long for a free pool connection fails, in ms. */
    readonly poolAcquireTimeoutMs: number;
    /** PostgreSQL statement_timeout for the relay's sessions, in ms. */
    readonly statementTimeoutMs: number;
    /** Statements slower than this are logged and counted as slow, in ms. */
    readonly slowQueryMs: number;
    /**
     * Apply pending migrations at start, under the advisory lock. Off (`--no-migrate`): the relay
     * only checks the schema and refuses to start (MIGRATION_PENDING, or the migrator's drift
     * codes) unless it is exactly up to date.
     */
    readonly migrate: boolean;
  };
  readonly redis: {
    /** Redis URL (a secret when it holds a password). Unset: in-process cache and pub/sub (one relay process). */
    readonly url: string | undefined;
    /** Prefix of every Redis key and channel, one per deployment sharing a Redis. */
    readonly keyPrefix: string;
    /** How long to wait for a Redis connection before counting Redis as down, in ms. */
    readonly connectTimeoutMs: number;
  };
  readonly ws: {
    /** Largest WebSocket frame accepted as received, in bytes. */
    readonly maxFrameBytes: number;
    /** Largest frame body after decompression; inflating stops there (decompression bombs), in bytes. */
    readonly maxInflatedFrameBytes: number;
    /** Bodies larger than this are compressed when the peer negotiated a codec, in bytes. */
    readonly compressThresholdBytes: number;
    /**
     * Brotli quality (0-11) of the frames the relay sends with brotli: bodies above 64 KiB
     * (pull pages, large live pages; smaller ones go through the connection context). Measured
     * on a page of 500 realistic task entries (950 KB): quality 3 takes ~60% of the time of 4
     * and ~25% of 5 for 3% and 13% more bytes; the relay's CPU is what limits its throughput.
     */
    readonly brotliQuality: number;
    /** A connection whose `hello` has not arrived after this many ms is closed (4408). */
    readonly helloTimeoutMs: number;
    /** Frames per second one device may send on average before it is closed (4429). */
    readonly rateLimitPerSecond: number;
    /** Frames one device may send in a burst above the average. */
    readonly rateLimitBurst: number;
    /**
     * Slow consumer: while a socket has more than this many bytes queued unsent, live change
     * pages to it are replaced by one empty page with `hasMore` (the device pulls), in bytes.
     */
    readonly slowConsumerBytes: number;
    /** A socket with more than this many bytes queued unsent is closed (4429, WS_SLOW_CONSUMER), in bytes. */
    readonly slowConsumerCloseBytes: number;
  };
  readonly auth: {
    /** Lifetime of an access token, in seconds. */
    readonly accessTokenTtlSeconds: number;
    /** Lifetime of a refresh token (rotated on every use), in seconds. */
    readonly refreshTokenTtlSeconds: number;
    /**
     * The refresh reuse grace, in seconds (0: none): a rotated refresh token presented again this
     * soon after its rotation, while the pair it was traded for was never used, gets a new pair
     * instead of revoking the device (server/auth/auth-service.ts).
     */
    readonly refreshReuseGraceSeconds: number;
    /**
     * Failed password checks (sign-in, account deletion) allowed for one account from one client
     * address within `loginWindowSeconds`; then that address is refused for that account only.
     */
    readonly loginMaxFailuresPerAccountAddress: number;
    /** Failed password checks allowed for one account from all addresses together within the window (kept high: anyone can spend it). */
    readonly loginMaxFailuresPerAccount: number;
    /** Failed password checks allowed from one client address for all accounts together within the window (credential stuffing). */
    readonly loginMaxFailuresPerAddress: number;
    /** The sliding window of the login rate limit, in seconds (a refusal's Retry-After is at most this). */
    readonly loginWindowSeconds: number;
    /** Let anyone create an account with POST /v1/users. Off: accounts come from `roo-sync user add`. */
    readonly allowSignup: boolean;
  };
  readonly sync: {
    /** Default expiry of a remote command that names none, in seconds. */
    readonly commandTtlSeconds: number;
    /** Change-log entries and tombstones older than this may be compacted, in seconds. */
    readonly compactionAgeSeconds: number;
    /** How often the retention job (log compaction, finished-command and stale-upload purge) runs, in seconds; 0: never. */
    readonly compactionIntervalSeconds: number;
    /** Finished remote commands (done, failed, expired) are deleted this long after they finished, in seconds. */
    readonly commandRetentionSeconds: number;
    /**
     * Keep the read model (conversations, messages, workspace files; server/projections) up to
     * date with the change log, off the push path. Off: those tables stop moving and the
     * routes that read them answer 503 PROJECTIONS_DISABLED.
     */
    readonly projections: boolean;
  };
  readonly cache: {
    /** How long a validated session (access token -> device) is cached, in seconds. */
    readonly sessionTtlSeconds: number;
    /** How long task list and metadata reads are cached, in seconds. */
    readonly queryTtlSeconds: number;
  };
  readonly log: {
    /** Least severe level written: trace, debug, info, warn, error, fatal or silent. */
    readonly level: LogLevel;
    /** `pretty` (one short human line per event) or `json`. Unset: pretty when stdout is a terminal, else json. */
    readonly format: LogFormat | undefined;
  };
}

const MIB = 1024 * 1024;
const DAY = 86_400;

/** Every default, in one place. `database.url` and `redis.url` default to unset (embedded mode). */
export const RELAY_DEFAULTS: RelayConfig = Object.freeze<RelayConfig>({
  http: {
    port: 8787, host: '127.0.0.1', maxBodyBytes: 1 * MIB, maxBlobBytes: 100 * MIB, blobUploadTtlSeconds: DAY, idleTimeoutMs: 60_000, shutdownGraceMs: 10_000,
    trustProxy: false,
  },
  database: {
    url: undefined, dataDir: './.roo-sync/data', poolMax: 10, poolIdleTimeoutMs: 30_000, poolAcquireTimeoutMs: 5_000,
    statementTimeoutMs: 15_000, slowQueryMs: 200, migrate: true,
  },
  redis: { url: undefined, keyPrefix: 'roo-sync:', connectTimeoutMs: 2_000 },
  ws: {
    maxFrameBytes: 1 * MIB, maxInflatedFrameBytes: 16 * MIB, compressThresholdBytes: 1024, brotliQuality: 3, helloTimeoutMs: 10_000,
    rateLimitPerSecond: 50, rateLimitBurst: 200, slowConsumerBytes: 4 * MIB, slowConsumerCloseBytes: 64 * MIB,
  },
  auth: {
    accessTokenTtlSeconds: 15 * 60, refreshTokenTtlSeconds: 30 * DAY, refreshReuseGraceSeconds: 60,
    loginMaxFailuresPerAccountAddress: 5, loginMaxFailuresPerAccount: 50, loginMaxFailuresPerAddress: 20, loginWindowSeconds: 15 * 60,
    allowSignup: false,
  },
  sync: {
    commandTtlSeconds: 60 * 60, compactionAgeSeconds: 30 * DAY, compactionIntervalSeconds: 60 * 60, commandRetentionSeconds: 7 * DAY,
    projections: true,
  },
  cache: { sessionTtlSeconds: 60, queryTtlSeconds: 300 },
  log: { level: 'info', format: undefined },
});
