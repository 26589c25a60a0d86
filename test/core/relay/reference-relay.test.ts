import assert from 'node:assert/strict';
import { CloseCode } from '../../../core/protocol/close-codes';
import { ReferenceRelay } from '../../../core/relay/reference-relay';
import { ManualScheduler } from '../../../core/relay/scheduler';
import { MemoryPeer, change, metaBody, putBody } from './memory-peer';

function setup() {
  const scheduler = new ManualScheduler();
  let n = 0;
  const relay = new ReferenceRelay({
    scheduler,
    helloTimeoutMs: 1000,
    commandRetryInitialMs: 100,
    commandRetryMaxMs: 400,
    newId: (kind) => `${kind}-${++n}`,
  });
  const user = relay.addUser();
  const a = relay.addDevice(user);
  const b = relay.addDevice(user);
  const online = (device: { deviceId: string; token: string }, cursor = 0) => {
    const peer = new MemoryPeer(relay);
    peer.hello(device.deviceId, device.token, cursor);
    return peer;
  };
  return { scheduler, relay, user, a, b, online };
}

describe('ReferenceRelay', () => {
  describe('#connect', () => {
    it('welcomes a device with a valid token', () => {
      const { a, online } = setup();
      const peer = online(a);
      const welcome = peer.ofType('welcome')[0]!;
      assert.equal(welcome.deviceId, a.deviceId);
      assert.equal(welcome.protocolVersion, 1);
      assert.equal(welcome.codec, 'none');
      assert.equal(welcome.resync, false);
      assert.equal(peer.closeCode(), undefined);
    });

    it('closes with Unauthorized for an unknown token and Forbidden for another device token', () => {
      const { relay, a, b } = setup();
      const bad = new MemoryPeer(relay);
      bad.hello(a.deviceId, 'nope');
      assert.equal(bad.closeCode(), CloseCode.Unauthorized);
      assert.equal(bad.ofType('error')[0]!.code, 'AUTH_TOKEN_INVALID');
      const wrong = new MemoryPeer(relay);
      wrong.hello(a.deviceId, b.token);
      assert.equal(wrong.closeCode(), CloseCode.Forbidden);
    });

    it('closes with ProtocolError when the first message is not hello', () => {
      const { relay } = setup();
      const peer = new MemoryPeer(relay);
      peer.send({ type: 'ping', id: 'p1' });
      assert.equal(peer.closeCode(), CloseCode.ProtocolError);
      assert.equal(peer.ofType('error')[0]!.code, 'PROTOCOL_EXPECTED_HELLO');
      assert.equal(peer.ofType('error')[0]!.replyTo, 'p1');
    });

    it('closes with HelloTimeout when hello does not come in time', () => {
      const { relay, scheduler } = setup();
      const peer = new MemoryPeer(relay);
      scheduler.advance(999);
      assert.equal(peer.closeCode(), undefined);
      scheduler.advance(1);
      assert.equal(peer.closeCode(), CloseCode.HelloTimeout);
    });

    it('closes with UnsupportedVersion when no version is shared', () => {
      const { relay, a } = setup();
      const peer = new MemoryPeer(relay);
      peer.send({ type: 'hello', protocolVersions: [99], codecs: ['none'], token: a.token, deviceId: a.deviceId, cursor: 0 });
      assert.equal(peer.closeCode(), CloseCode.UnsupportedVersion);
    });

    it('answers invalid messages after hello with a coded error and keeps the connection', () => {
      const { a, online } = setup();
      const peer = online(a);
      peer.send({ type: 'pull', id: 'q1', cursor: -1, limit: 10 });
      peer.send({ type: 'nonsense', id: 'q2' });
      peer.send({ type: 'ping', id: 'q3' });
      assert.equal((peer.replyTo('q1') as { code: string }).code, 'PROTOCOL_INVALID_FIELD');
      assert.equal((peer.replyTo('q2') as { code: string }).code, 'PROTOCOL_UNKNOWN_TYPE');
      assert.equal(peer.replyTo('q3').type, 'pong');
      assert.equal(peer.closeCode(), undefined);
    });

    it('accepts a token rotated through auth and refuses a bad one', () => {
      const { relay, a, online } = setup();
      const peer = online(a);
      peer.send({ type: 'auth', id: 'x1', token: relay.issueToken(a.deviceId) });
      assert.equal(peer.replyTo('x1').type, 'auth.ok');
      peer.send({ type: 'auth', id: 'x2', token: 'bogus' });
      assert.equal(peer.closeCode(), CloseCode.Unauthorized);
    });
  });

  describe('push and pull', () => {
    it('acks, fans out to other devices only, and pages pulls', () => {
      const { relay, a, b, online } = setup();
      const pa = online(a);
      const pb = online(b);
      const otherUser = relay.addUser();
      const pc = online(relay.addDevice(otherUser));
      pa.send({ type: 'push', id: 'p1', changes: [change(1, putBody('t', '1:0')), change(2, putBody('t', '2:0'))] });
      assert.deepEqual(pa.replyTo('p1'), { type: 'ack', replyTo: 'p1', accepted: [{ clientSeq: 1, seq: 1 }, { clientSeq: 2, seq: 2 }] });
      assert.equal(pa.ofType('changes').length, 0, 'the sender gets no echo');
      assert.deepEqual(pb.ofType('changes')[0]!.changes.map((c) => c.seq), [1, 2]);
      assert.equal(pc.ofType('changes').length, 0, 'another user sees nothing');
      pc.send({ type: 'pull', id: 'c1', cursor: 0, limit: 10 });
      assert.deepEqual(pc.replyTo('c1'), { type: 'changes', replyTo: 'c1', changes: [], cursor: 0, hasMore: false });
      pb.send({ type: 'pull', id: 'b1', cursor: 0, limit: 1 });
      const page = pb.replyTo('b1') as { changes: unknown[]; cursor: number; hasMore: boolean };
      assert.deepEqual([page.changes.length, page.cursor, page.hasMore], [1, 1, true]);
    });

    it('replies conflict with the current version for a stale baseSeq', () => {
      const { a, b, online } = setup();
      const pa = online(a);
      const pb = online(b);
      pa.send({ type: 'push', id: 'p1', changes: [change(1, metaBody('t', 'a'))] });
      pb.send({ type: 'push', id: 'p2', changes: [change(1, metaBody('t', 'b'), null)] });
      const reply = pb.replyTo('p2');
      assert.equal(reply.type, 'conflict');
      assert.equal(reply.type === 'conflict' && reply.conflicts[0]!.current.seq, 1);
    });

    it('sets welcome.resync when the cursor is older than the compaction point', () => {
      const { relay, user, a, b, online } = setup();
      const pa = online(a);
      pa.send({ type: 'push', id: 'p1', changes: [change(1, metaBody('t', 'a'))] });
      pa.send({ type: 'push', id: 'p2', changes: [change(2, metaBody('t', 'b'), 1)] });
      assert.equal(relay.compact(3, user), 1);
      assert.equal(online(b, 0).ofType('welcome')[0]!.resync, true);
      assert.equal(online(b, 2).ofType('welcome')[0]!.resync, false);
    });

    it('does not let a peer alias relay state through a received message', () => {
      const { a, b, online } = setup();
      const pa = online(a);
      const pb = online(b);
      pa.send({ type: 'push', id: 'p1', changes: [change(1, putBody('t', '1:0'))] });
      (pb.ofType('changes')[0]!.changes[0]!.body as { key: string }).key = 'mutated';
      pb.send({ type: 'pull', id: 'b1', cursor: 0, limit: 10 });
      const page = pb.replyTo('b1') as { changes: Array<{ body: { key: string } }> };
      assert.equal(page.changes[0]!.body.key, '1:0');
    });
  });

  describe('presence', () => {
    it('announces online, updates and offline to the other devices', () => {
      const { a, b, online } = setup();
      const pa = online(a);
      const pb = online(b);
      assert.deepEqual(pa.ofType('presence').at(-1), { type: 'presence', deviceId: b.deviceId, state: 'online' });
      assert.deepEqual(pb.ofType('presence').at(-1), { type: 'presence', deviceId: a.deviceId, state: 'online' }, 'newcomer learns who is here');
      pb.send({ type: 'presence.update', state: 'busy', activeTaskId: 't1' });
      assert.deepEqual(pa.ofType('presence').at(-1), { type: 'presence', deviceId: b.deviceId, state: 'busy', activeTaskId: 't1' });
      pb.connection.closed();
      assert.deepEqual(pa.ofType('presence').at(-1), { type: 'presence', deviceId: b.deviceId, state: 'offline' });
    });
  });

  describe('#revokeDevice', () => {
    it('closes the device connections with Forbidden and refuses its token', () => {
      const { relay, a, online } = setup();
      const pa = online(a);
      relay.revokeDevice(a.deviceId);
      relay.revokeDevice(a.deviceId);
      assert.equal(pa.closeCode(), CloseCode.Forbidden);
      const again = online(a);
      assert.equal(again.closeCode(), CloseCode.Forbidden);
    });
  });

  describe('remote commands', () => {
    it('queues for an offline target, delivers on connect by priority, and reports results', () => {
      const { a, b, online } = setup();
      const pa = online(a);
      pa.send({ type: 'command.send', id: 'c1', targetDeviceId: b.deviceId, command: { kind: 'task.start', text: 'low' } });
      pa.send({ type: 'command.send', id: 'c2', targetDeviceId: b.deviceId, command: { kind: 'task.start', text: 'high', priority: 5 } });
      const queued = pa.ofType('command.queued');
      assert.equal(queued.length, 2);
      const pb = online(b);
      const delivered = pb.ofType('command.deliver');
      assert.deepEqual(delivered.map((d) => d.command.text), ['high', 'low']);
      assert.equal(delivered[0]!.fromDeviceId, a.deviceId);
      pb.send({ type: 'command.response', id: 'r1', commandId: delivered[0]!.commandId, status: 'done', result: { ok: 1 } });
      assert.deepEqual(pa.ofType('command.result').at(-1), {
        type: 'command.result',
        commandId: delivered[0]!.commandId,
        targetDeviceId: b.deviceId,
        status: 'done',
        result: { ok: 1 },
      });
    });

    it('redelivers with exponential backoff until the target responds', () => {
      const { scheduler, a, b, online } = setup();
      const pa = online(a);
      const pb = online(b);
      pa.send({ type: 'command.send', id: 'c1', targetDeviceId: b.deviceId, command: { kind: 'task.cancel', taskId: 't1' } });
      assert.equal(pb.ofType('command.deliver').length, 1);
      scheduler.advance(100);
      assert.deepEqual(pb.ofType('command.deliver').map((d) => d.attempt), [1, 2]);
      scheduler.advance(199);
      assert.equal(pb.ofType('command.deliver').length, 2, 'second delay doubles');
      scheduler.advance(1);
      assert.equal(pb.ofType('command.deliver').length, 3);
      const { commandId } = pb.ofType('command.deliver')[0]!;
      pb.send({ type: 'command.response', id: 'r1', commandId, status: 'delivered' });
      scheduler.advance(10_000);
      assert.equal(pb.ofType('command.deliver').length, 3);
      assert.equal(pa.ofType('command.result')[0]!.status, 'delivered');
    });

    it('expires a command nobody answered and tells the sender', () => {
      const { scheduler, a, b, online } = setup();
      const pa = online(a);
      pa.send({ type: 'command.send', id: 'c1', targetDeviceId: b.deviceId, command: { kind: 'task.start', ttlMs: 5000 } });
      const { commandId, expiresAt } = pa.ofType('command.queued')[0]!;
      assert.equal(expiresAt, scheduler.now() + 5000);
      scheduler.advance(5000);
      assert.deepEqual(pa.ofType('command.result')[0], { type: 'command.result', commandId, targetDeviceId: b.deviceId, status: 'expired' });
      const pb = online(b);
      assert.equal(pb.ofType('command.deliver').length, 0, 'an expired command is never delivered');
      pb.send({ type: 'command.response', id: 'late', commandId, status: 'done' });
      assert.equal((pb.replyTo('late') as { code: string }).code, 'COMMAND_UNKNOWN');
      assert.equal(pa.ofType('command.result').length, 1, 'a late answer does not reach the sender');
    });

    it('refuses unknown and other-user targets alike, and a busy task', () => {
      const { relay, user, a, b, online } = setup();
      const pa = online(a);
      const other = relay.addDevice(relay.addUser());
      pa.send({ type: 'command.send', id: 'c1', targetDeviceId: other.deviceId, command: { kind: 'task.start' } });
      pa.send({ type: 'command.send', id: 'c2', targetDeviceId: 'device-none', command: { kind: 'task.start' } });
      assert.deepEqual(pa.replyTo('c1'), { ...pa.replyTo('c2'), replyTo: 'c1' });
      assert.equal((pa.replyTo('c1') as { code: string }).code, 'COMMAND_TARGET_UNKNOWN');
      const third = relay.addDevice(user);
      const pt = online(third);
      pa.send({ type: 'command.send', id: 'c3', targetDeviceId: b.deviceId, command: { kind: 'task.message', taskId: 't1', text: 'hi' } });
      pt.send({ type: 'command.send', id: 'c4', targetDeviceId: b.deviceId, command: { kind: 'task.cancel', taskId: 't1' } });
      pa.send({ type: 'command.send', id: 'c5', targetDeviceId: b.deviceId, command: { kind: 'task.approve', taskId: 't1' } });
      assert.equal(pa.replyTo('c3').type, 'command.queued');
      assert.equal((pt.replyTo('c4') as { code: string }).code, 'COMMAND_TASK_BUSY');
      assert.equal(pa.replyTo('c5').type, 'command.queued', 'the same sender may follow up');
    });

    it('keeps results for an offline sender until it reconnects', () => {
      const { a, b, online } = setup();
      const pa = online(a);
      const pb = online(b);
      pa.send({ type: 'command.send', id: 'c1', targetDeviceId: b.deviceId, command: { kind: 'task.start' } });
      pa.connection.closed();
      const { commandId } = pb.ofType('command.deliver')[0]!;
      pb.send({ type: 'command.response', id: 'r1', commandId, status: 'failed', error: { code: 'NO_ASSISTANT', message: 'x' } });
      const back = online(a);
      assert.equal(back.ofType('command.result')[0]!.status, 'failed');
    });
  });

  describe('internal failures', () => {
    it('ends only the failing connection with InternalError and reports the error', () => {
      const failures: unknown[] = [];
      let n = 0;
      const relay = new ReferenceRelay({
        scheduler: new ManualScheduler(),
        onInternalError: (error) => failures.push(error),
        newId: (kind) => {
          if (kind === 'command') throw new Error('id source broken');
          return `${kind}-${++n}`;
        },
      });
      const user = relay.addUser();
      const [a, b] = [relay.addDevice(user), relay.addDevice(user)];
      const pa = new MemoryPeer(relay);
      pa.hello(a.deviceId, a.token);
      const pb = new MemoryPeer(relay);
      pb.hello(b.deviceId, b.token);
      pa.send({ type: 'command.send', id: 'c1', targetDeviceId: b.deviceId, command: { kind: 'task.start' } });
      assert.equal((pa.replyTo('c1') as { code: string }).code, 'RELAY_INTERNAL');
      assert.equal(pa.closeCode(), CloseCode.InternalError);
      assert.equal(failures.length, 1);
      pb.send({ type: 'ping', id: 'b1' });
      assert.equal(pb.replyTo('b1').type, 'pong');
    });
  });

  describe('#close', () => {
    it('closes every connection with GoingAway and is idempotent', () => {
      const { relay, scheduler, a, online } = setup();
      const pa = online(a);
      relay.close();
      relay.close();
      assert.equal(pa.closeCode(), CloseCode.GoingAway);
      assert.equal(scheduler.pendingTimers, 0);
    });
  });
});
