import assert from 'node:assert/strict';
import type { ClientChange, ServerChange } from '../../../core/model/changes';
import { ReferenceRelay } from '../../../core/relay/reference-relay';
import { ManualScheduler } from '../../../core/relay/scheduler';
import { createRng } from '../../support/rng';
import { MemoryPeer, change, metaBody, putBody } from './memory-peer';

/**
 * Random interleavings of pushes, replays and reconnects from several devices of two users.
 * Invariants: each user's log is numbered 1..n without gaps; every (deviceId, clientSeq) is
 * stored once and always answered with the same seq; a device's accepted changes keep its
 * order; a user never sees the other user's changes.
 */
describe('ReferenceRelay (randomized)', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`keeps per-user order and idempotency (seed ${seed})`, () => {
      const rng = createRng(seed);
      const relay = new ReferenceRelay({ scheduler: new ManualScheduler() });
      const users = [relay.addUser(), relay.addUser()];
      const devices = users.flatMap((user) =>
        [0, 1, 2].map(() => ({ user, ...relay.addDevice(user), sent: [] as ClientChange[], seqOf: new Map<number, number>() })),
      );
      const peers = new Map(devices.map((d) => [d.deviceId, null as MemoryPeer | null]));
      let request = 0;
      for (let step = 0; step < 300; step++) {
        const device = rng.pick(devices);
        let peer = peers.get(device.deviceId)!;
        if (!peer || rng.chance(0.05)) {
          peer?.connection.closed();
          peer = new MemoryPeer(relay);
          peer.hello(device.deviceId, device.token);
          peers.set(device.deviceId, peer);
        }
        const batch: ClientChange[] = [];
        if (device.sent.length > 0 && rng.chance(0.3)) {
          // Replay a run of earlier changes, as an outbox does after a lost ack.
          const from = rng.int(0, device.sent.length - 1);
          batch.push(...device.sent.slice(from, from + rng.int(1, 3)));
        } else {
          for (let i = rng.int(1, 4); i > 0; i--) {
            const clientSeq = device.sent.length + 1;
            const body = rng.chance(0.8) ? putBody(`t${rng.int(1, 3)}`, `${rng.int(1, 50)}:0`) : metaBody(`m${clientSeq}-${device.deviceId}`);
            const next = change(clientSeq, body);
            device.sent.push(next);
            batch.push(next);
          }
        }
        const id = `r${++request}`;
        peer.send({ type: 'push', id, changes: batch });
        const reply = peer.replyTo(id);
        assert.equal(reply.type, 'ack', `seed ${seed} step ${step}`);
        if (reply.type !== 'ack') return;
        for (const { clientSeq, seq } of reply.accepted) {
          const known = device.seqOf.get(clientSeq);
          if (known !== undefined) assert.equal(seq, known, `replay of ${clientSeq} got a new seq`);
          device.seqOf.set(clientSeq, seq);
        }
      }
      for (const user of users) {
        const device = devices.find((d) => d.user === user)!;
        const reader = new MemoryPeer(relay);
        reader.hello(device.deviceId, device.token);
        reader.send({ type: 'pull', id: 'all', cursor: 0, limit: 1000 });
        const page = reader.replyTo('all');
        assert.equal(page.type, 'changes');
        if (page.type !== 'changes') return;
        const own = devices.filter((d) => d.user === user);
        const total = own.reduce((n, d) => n + d.sent.length, 0);
        assert.deepEqual(page.changes.map((c) => c.seq), Array.from({ length: total }, (_, i) => i + 1));
        for (const d of own) {
          const mine: ServerChange[] = page.changes.filter((c) => c.deviceId === d.deviceId);
          assert.deepEqual(mine.map((c) => c.clientSeq), d.sent.map((c) => c.clientSeq), 'device order kept');
          assert.deepEqual(mine.map((c) => c.seq), d.sent.map((c) => d.seqOf.get(c.clientSeq)));
        }
        assert.ok(page.changes.every((c) => own.some((d) => d.deviceId === c.deviceId)), 'only this user');
      }
    });
  }
});
