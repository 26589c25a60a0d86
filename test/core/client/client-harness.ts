/**
 * Test helpers for RooCloudClient: a reference relay behind a real ws host, clients wired to
 * it, and a poll-with-deadline wait.
 */
import { createServer } from 'node:net';
import type { DeviceId, UserId } from '../../../core/ids';
import { RooCloudClient, type RooCloudClientOptions } from '../../../core/node/client/roo-cloud-client';
import { WsRelayHost } from '../../../core/node/relay/ws-relay-host';
import { ReferenceRelay, type ReferenceRelayOptions } from '../../../core/relay/reference-relay';

/** Polls `check` until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A port nothing listens on (bound once, then released). */
export function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export class ClientHarness {
  readonly relay: ReferenceRelay;
  host!: WsRelayHost;
  readonly userId: UserId;
  private readonly clients: RooCloudClient[] = [];

  constructor(relayOptions: ReferenceRelayOptions = {}) {
    this.relay = new ReferenceRelay(relayOptions);
    this.userId = this.relay.addUser();
  }

  private hostOptions: { maxFrameBytes?: number } = {};

  async start(port = 0, hostOptions: { maxFrameBytes?: number } = {}): Promise<this> {
    this.hostOptions = hostOptions;
    this.host = await WsRelayHost.start({ relay: this.relay, port, ...hostOptions });
    return this;
  }

  /** Stops the host and starts a new one on the same port, over the same relay state. */
  async restartHost(): Promise<void> {
    const { port } = this.host;
    await this.host.close();
    this.host = await WsRelayHost.start({ relay: this.relay, port, ...this.hostOptions });
  }

  device(): { deviceId: DeviceId; token: string } {
    return this.relay.addDevice(this.userId);
  }

  /** A started client for a new device (or the one given). */
  client(
    options: Partial<RooCloudClientOptions> = {},
    device: { deviceId: DeviceId; token: string } = this.device(),
  ): RooCloudClient {
    const client = new RooCloudClient({
      url: this.host.url,
      deviceId: device.deviceId,
      getToken: async () => device.token,
      getCursor: () => 0,
      requestTimeoutMs: 2000,
      backoff: { initialMs: 20, maxMs: 100, jitter: 0 },
      pingIntervalMs: 0,
      ...options,
    });
    this.clients.push(client);
    client.start();
    return client;
  }

  async online(client: RooCloudClient): Promise<RooCloudClient> {
    await waitUntil(() => client.status.state === 'online', 'client online');
    return client;
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
    await this.host?.close();
    this.relay.close();
  }
}
