/**
 * The relay's WebSocket side: `/v1/sync` on the relay's one HTTP server (DESIGN.md "Wire
 * protocol", "Server"). `attachSyncEndpoint` takes the upgrades of that path (a `ws`
 * WebSocketServer in noServer mode, so HTTP and WebSocket share the port), runs one
 * SyncConnection per socket, fans live changes, presence and commands out across relay
 * processes through the SyncHub, and closes a revoked device's sockets on every process.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { ServerChange } from '../../core/model/changes';
import { CloseCode } from '../../core/protocol/close-codes';
import type { CodecName } from '../../core/protocol/messages';
import type { Cache, PubSub } from '../cache/ports';
import { CommandService, DEFAULT_COMMAND_TIMING, type CommandTiming } from '../commands/command-service';
import { queueDepth } from '../commands/command-store';
import type { RelayConfig } from '../config/relay-config';
import type { Database } from '../db/database';
import type { Logger } from '../observability/logger';
import type { RelayMetrics } from '../observability/metrics';
import { PushCommitter } from './push-committer';
import { DeviceRateLimits } from './rate-limiter';
import { SyncConnection } from './sync-connection';
import { SyncHub } from './sync-hub';

export const SYNC_PATH = '/v1/sync';

/** What the sync endpoint needs of the session validator (server/auth/access-tokens.ts). */
export interface SyncSessions {
  validateAccessToken(token: string): Promise<{ userId: string; deviceId: string } | null>;
  onDeviceRevoked(listener: (deviceId: string) => void): () => void;
}

export interface SyncEndpointContext {
  db: Database;
  /** Not used yet by the sync side (sessions are cached by the validator); kept for the composition root's one shape. */
  cache?: Cache;
  pubsub: PubSub;
  logger: Logger;
  metrics?: RelayMetrics;
  config: Pick<RelayConfig, 'ws' | 'sync'>;
  sessions: SyncSessions;
  /** Command queue timing beyond the config (tests shorten retries). */
  commandTiming?: Partial<Omit<CommandTiming, 'defaultTtlMs'>>;
  /** Codecs offered to devices, best first. Default brotli, deflate, none. */
  codecs?: readonly CodecName[];
  /** Awaited after every committed push that stored changes (the relay invalidates cached task reads). Must not throw. */
  onCommitted?: (userId: string, stored: readonly ServerChange[]) => Promise<void>;
}

export interface SyncEndpoint {
  /** Authenticated sockets on this process now. */
  readonly connectionCount: number;
  /** Pushes waiting for a group-commit statement now (the projector gives way while there are any). */
  readonly pushesWaiting: number;
  /** Closes every socket with GoingAway (1001), stops timers, unsubscribes. Idempotent. */
  close(): Promise<void>;
}

/** How long close() waits for sockets to finish the closing handshake before cutting them. */
const CLOSE_GRACE_MS = 1_000;

export function attachSyncEndpoint(httpServer: Server, context: SyncEndpointContext): SyncEndpoint {
  const logger = context.logger.child({ component: 'sync' });
  const { ws, sync } = context.config;
  const commands = new CommandService(
    context.db,
    { ...DEFAULT_COMMAND_TIMING, ...context.commandTiming, defaultTtlMs: sync.commandTtlSeconds * 1000 },
    logger,
  );
  const hub = new SyncHub({
    pubsub: context.pubsub,
    logger,
    metrics: context.metrics,
    onCommandPending: (userId, deviceId) => commands.deliverPending(userId, deviceId),
    onResultTold: (commandId) => commands.resultTold(commandId),
  });
  commands.attach(hub);
  const rateLimits = new DeviceRateLimits(ws.rateLimitPerSecond, ws.rateLimitBurst);
  const sockets = new Set<SyncConnection>();
  let order = 0;
  let closing: Promise<void> | undefined;

  // permessage-deflate stays off: ws then never queues a frame, so connections may write whole
  // frames to the upgraded socket themselves (ws-frame-writer.ts).
  const wss = new WebSocketServer({ noServer: true, maxPayload: ws.maxFrameBytes, perMessageDeflate: false });
  wss.on('error', (err) => logger.warn('websocket server error', { err }));
  const deps = {
    db: context.db,
    pushes: new PushCommitter(context.db, { onCommitted: (pushes, changes) => context.metrics?.recordPushCommit(pushes, changes) }),
    hub,
    commands,
    sessions: context.sessions,
    rateLimits,
    logger,
    metrics: context.metrics,
    maxFrameBytes: ws.maxFrameBytes,
    maxInflatedBytes: ws.maxInflatedFrameBytes,
    compressThreshold: ws.compressThresholdBytes,
    brotliQuality: ws.brotliQuality,
    helloTimeoutMs: ws.helloTimeoutMs,
    slowConsumerBytes: ws.slowConsumerBytes,
    slowConsumerCloseBytes: ws.slowConsumerCloseBytes,
    codecs: context.codecs ?? (['brotli', 'deflate', 'none'] as const),
    nextOrder: () => ++order,
    onCommitted: context.onCommitted,
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(request.url) !== SYNC_PATH) {
      // Another upgrade handler may own this path; with none, refuse it here.
      if (httpServer.listenerCount('upgrade') <= 1) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    if (closing) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
      return;
    }
    socket.on('error', () => undefined);
    wss.handleUpgrade(request, socket, head, (websocket) => {
      if (closing) {
        websocket.close(CloseCode.GoingAway, 'relay shutting down');
        return;
      }
      const connection = new SyncConnection(websocket, deps, socket);
      sockets.add(connection);
      connection.onClose(() => sockets.delete(connection));
    });
  };
  httpServer.on('upgrade', onUpgrade);

  const stopRevocations = context.sessions.onDeviceRevoked((deviceId) => {
    hub.closeDevice(deviceId, CloseCode.Forbidden, 'device revoked');
    commands.targetRevoked(deviceId).catch((err: unknown) => logger.warn('commands of a revoked device not failed', { err }));
  });
  const unbindDepth = context.metrics?.bindCommandQueueDepth(() => queueDepth(context.db));

  return {
    get connectionCount() {
      return hub.connectionCount;
    },
    get pushesWaiting() {
      return deps.pushes.waiting;
    },
    close() {
      closing ??= (async () => {
        httpServer.off('upgrade', onUpgrade);
        stopRevocations();
        unbindDepth?.();
        commands.close();
        for (const connection of sockets) connection.close(CloseCode.GoingAway, 'relay shutting down');
        const deadline = Date.now() + CLOSE_GRACE_MS;
        while (sockets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
        for (const connection of sockets) connection.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await hub.close();
      })();
      return closing;
    },
  };
}

function pathOf(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}
