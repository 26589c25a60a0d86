/**
 * A small deterministic world for HybridStorage unit tests: the ReferenceRelay, a simulated
 * network and devices, and `run()`, which delivers frames until an operation settles.
 */
import { ReferenceRelay } from '../../../core/relay/reference-relay';
import { ManualScheduler } from '../../../core/relay/scheduler';
import type { UserId } from '../../../core/ids';
import { MemoryBlobStore } from '../../../core/storage/memory-blob-store';
import { createRng } from '../rng';
import { SimDevice } from './sim-device';
import { SimNetwork } from './sim-network';

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class SimWorld {
  readonly clock = { t: 1_760_000_000_000 };
  readonly relay: ReferenceRelay;
  readonly userId: UserId;
  readonly network: SimNetwork;
  /** The relay's blob store (shared by every device). */
  readonly blobs = new MemoryBlobStore();
  readonly devices: SimDevice[] = [];
  private ids = 0;

  constructor(seed = 1) {
    this.relay = new ReferenceRelay({ scheduler: new ManualScheduler(), newId: (kind) => `${kind}-${++this.ids}` });
    this.userId = this.relay.addUser();
    this.network = new SimNetwork(this.relay, createRng(seed));
  }

  /** A new, started and connected device. */
  async addDevice(options: { pullApplyBatch?: number } = {}): Promise<SimDevice> {
    const { deviceId, token } = this.relay.addDevice(this.userId);
    const device = new SimDevice(this.devices.length, deviceId, token, this.network, this.blobs, () => this.clock.t);
    device.pullApplyBatch = options.pullApplyBatch;
    this.devices.push(device);
    await device.start();
    return device;
  }

  /** Delivers frames until `operation` settles; returns its result. */
  async run<T>(operation: Promise<T>): Promise<T> {
    let done = false;
    const tracked = operation.finally(() => {
      done = true;
    });
    tracked.catch(() => undefined);
    for (let spins = 0; !done; spins++) {
      if (spins > 10_000) throw new Error('operation never settled');
      while (this.network.deliverOne());
      await settle();
    }
    return tracked;
  }

  /** Pushes then pulls on each device in turn, twice, so every device has everything. */
  async syncAll(): Promise<void> {
    for (let round = 0; round < 2; round++) {
      for (const d of this.devices) {
        await this.run(d.storage!.syncToCloud());
        await this.run(d.storage!.syncFromCloud());
      }
    }
  }

  /** Advances the clock (mtimes, HLC). */
  tick(ms = 1000): void {
    this.clock.t += ms;
  }
}
