/**
 * The real relay (startRelayServer: HTTP + /v1/sync on one port) as a conformance
 * `RelayUnderTest`: users and devices are made in its database the way sign-in makes them,
 * revocation goes through its session validator (so every relay process hears it).
 */
import type { UserId } from '../../core/ids';
import type { RelayUnderTest, ConformanceOptions } from '../conformance/protocol-conformance';
import { loadRelayConfig } from '../../server/config/load-config';
import type { Database } from '../../server/db/database';
import { startRelayServer, type RelayServer } from '../../server/relay-server';
import { compactProjected } from './compaction';
import { createTestDevice, createTestUser, revokeTestDevice } from './sync-relay';

/** Environment for a relay with the conformance suite's limits and no rate limit in the way. */
export function conformanceEnv(options: ConformanceOptions): Record<string, string> {
  return {
    PORT: '0',
    LOG_LEVEL: 'silent',
    WS_HELLO_TIMEOUT_MS: String(options.helloTimeoutMs),
    WS_MAX_FRAME_BYTES: String(options.maxFrameBytes),
    WS_MAX_INFLATED_BYTES: String(options.maxInflatedBytes),
    WS_RATE_LIMIT_PER_SECOND: '10000',
    WS_RATE_LIMIT_BURST: '10000',
  };
}

/** Starts a relay from `env` (plus an injected database, if given) and wraps it for the suite. */
export async function startRelayUnderTest(
  env: Record<string, string>,
  deps: { db?: Database } = {},
  cleanup: () => Promise<void> = async () => undefined,
): Promise<RelayUnderTest & { relay: RelayServer }> {
  const relay = await startRelayServer(loadRelayConfig({ env }), deps, { compactionIntervalMs: 0 });
  return {
    relay,
    url: `${relay.url.replace('http', 'ws')}/v1/sync`,
    createUser: () => createTestUser(relay.db),
    createDevice: (userId) => createTestDevice(relay.db, userId),
    revokeDevice: (deviceId) => revokeTestDevice(relay.db, relay.sessions, deviceId),
    // Everything superseded so far: the cut-off lies ahead of every stored change. Compaction
    // keeps a superseded put the read model still names until the projector has applied the
    // newer one, so it first waits for the relay's projector to cover the log.
    compact: async (userId) => {
      await compactProjected(relay.db, userId as UserId, new Date(Date.now() + 60_000));
    },
    async close() {
      await relay.close();
      await cleanup();
    },
  };
}
