/**
 * A simulated network between devices and the ReferenceRelay, driven by a seeded generator:
 * frames (the real protocol message objects) wait in flight until the simulation delivers
 * them. Delivery order is random across connections but FIFO within one connection and
 * direction, as a WebSocket over TCP allows. A disconnect drops everything in flight on that
 * connection and tells both ends.
 */
import type { ReferenceRelay, RelayConnection } from '../../../core/relay/reference-relay';
import type { ServerMessage } from '../../../core/protocol/messages';
import type { Rng } from '../rng';

/** The device end of a simulated connection. */
export interface SimEndpoint {
  /** A message from the relay arrived. */
  onMessage(message: ServerMessage): void;
  /** The connection ended (by either side or the network). */
  onClose(reason: string): void;
}

interface Frame {
  link: SimLink;
  toRelay: boolean;
  message: unknown;
}

export class SimLink {
  open = true;
  readonly toRelay: unknown[] = [];
  readonly toDevice: ServerMessage[] = [];
  relay!: RelayConnection;

  constructor(
    readonly id: number,
    readonly deviceId: string,
    readonly endpoint: SimEndpoint,
  ) {}

  /** The device sends a message (queued until delivered). */
  send(message: unknown): void {
    if (this.open) this.toRelay.push(structuredClone(message));
  }
}

export class SimNetwork {
  private readonly links = new Set<SimLink>();
  private nextLinkId = 1;
  /** Frames delivered so far (statistics). */
  delivered = 0;

  constructor(
    private readonly relay: ReferenceRelay,
    private readonly rng: Rng,
  ) {}

  /** Opens a connection for a device; nothing is delivered until `deliver*` is called. */
  open(deviceId: string, endpoint: SimEndpoint): SimLink {
    const link = new SimLink(this.nextLinkId++, deviceId, endpoint);
    link.relay = this.relay.connect({
      send: (message) => {
        if (link.open) link.toDevice.push(message);
      },
      close: (_code, reason) => this.drop(link, `relay closed: ${reason}`, false),
    });
    this.links.add(link);
    return link;
  }

  /** Ends a connection: frames in flight are lost, both ends are told. Idempotent. */
  close(link: SimLink, reason = 'disconnected'): void {
    this.drop(link, reason, true);
  }

  /** Number of frames in flight. */
  get inFlight(): number {
    let n = 0;
    for (const link of this.links) n += link.toRelay.length + link.toDevice.length;
    return n;
  }

  /** Delivers one frame chosen at random among the heads of the queues; false when none. */
  deliverOne(): boolean {
    const heads: Frame[] = [];
    for (const link of this.links) {
      if (link.toRelay.length) heads.push({ link, toRelay: true, message: link.toRelay[0] });
      if (link.toDevice.length) heads.push({ link, toRelay: false, message: link.toDevice[0] });
    }
    if (heads.length === 0) return false;
    const frame = this.rng.pick(heads);
    if (frame.toRelay) {
      frame.link.toRelay.shift();
      frame.link.relay.receive(frame.message);
    } else {
      frame.link.toDevice.shift();
      frame.link.endpoint.onMessage(frame.message as ServerMessage);
    }
    this.delivered++;
    return true;
  }

  private drop(link: SimLink, reason: string, tellRelay: boolean): void {
    if (!link.open) return;
    link.open = false;
    link.toRelay.length = 0;
    link.toDevice.length = 0;
    this.links.delete(link);
    if (tellRelay) link.relay.closed();
    link.endpoint.onClose(reason);
  }
}
