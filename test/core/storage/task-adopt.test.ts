/**
 * adoptHeldChanges: pulled versions the disk already holds, in entries and fields the sync
 * state does not track, are taken as synced (a backfilled store); nothing else is.
 */
import assert from 'node:assert/strict';
import { asDeviceId, asTaskId } from '../../../core/ids';
import { entityKeyOf, type ChangeBody, type ServerChange } from '../../../core/model/changes';
import { hashJson } from '../../../core/model/hash';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { SyncState } from '../../../core/storage/sync-state';
import { adoptHeldChanges, releaseHeld } from '../../../core/storage/task-adopt';
import type { PendingIndex } from '../../../core/storage/task-apply';

const taskId = asTaskId('t1');
const other = asDeviceId('other-device');
const NONE: PendingIndex = { entities: new Set(), truncates: new Map() };
const ui = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
const stamp = (n: number) => `${String(1_760_000_000_000 + n).padStart(15, '0')}-000000-${other}`;

let seq = 0;
function change(body: ChangeBody): ServerChange {
  return { seq: ++seq, clientSeq: seq, baseSeq: null, deviceId: other, entity: entityKeyOf(body), body };
}
function put(stream: 'ui' | 'api', key: string, entry: unknown): ServerChange {
  return change({ type: 'stream.put', source: 'roo-code', taskId, stream, key: key as never, hash: hashJson(entry), entry });
}
function meta(fields: Record<string, unknown>, at: number): ServerChange {
  return change({ type: 'task.meta', source: 'roo-code', taskId, fields, clocks: Object.fromEntries(Object.keys(fields).map((name) => [name, stamp(at)])) });
}
function snapshot(uiEntries: unknown[], api: unknown[], historyItem: Record<string, unknown> | null = null): TaskSnapshot {
  return { source: 'roo-code', taskId, ui: uiEntries, api, historyItem: historyItem as TaskSnapshot['historyItem'] };
}
const freshTask = () => new SyncState().task('roo-code', taskId);
const NO_HOLD = { deviceId: 'me', hold: false };
const HOLD = { deviceId: 'me', hold: true };

describe('adoptHeldChanges', () => {
  it('tracks the untracked entries whose content a put of the same key has, at that put', () => {
    const task = freshTask();
    const a = ui(1000, 'a');
    const changes = [put('ui', '1000:0', a), put('ui', '2000:0', ui(2000, 'relay')), put('api', '0', { role: 'user', content: 'hi' })];
    const adopted = adoptHeldChanges(snapshot([a, ui(2000, 'edited here')], [{ role: 'user', content: 'hi' }]), task, changes, NONE, NO_HOLD);
    assert.deepEqual({ entries: adopted.entries, fields: adopted.fields, held: adopted.held }, { entries: 2, fields: 0, held: 0 });
    assert.deepEqual(task.streams.ui.get('1000:0' as never), { key: '1000:0', hash: hashJson(a), own: false, seq: changes[0]!.seq });
    assert.equal(task.streams.ui.has('2000:0' as never), false, 'other content stays a local edit');
    assert.equal(task.streams.api.get('0' as never)?.seq, changes[2]!.seq);
  });

  it('takes the latest put with the content on disk; later versions are left to the apply', () => {
    const task = freshTask();
    const old = ui(1000, 'old');
    const changes = [put('ui', '1000:0', ui(1000, 'first')), put('ui', '1000:0', old), put('ui', '1000:0', ui(1000, 'newer'))];
    adoptHeldChanges(snapshot([old], []), task, changes, NONE, NO_HOLD);
    assert.equal(task.streams.ui.get('1000:0' as never)?.seq, changes[1]!.seq);
  });

  it('leaves tracked keys and entities with a queued change alone', () => {
    const task = freshTask();
    const a = ui(1000, 'a');
    const b = ui(2000, 'b');
    task.streams.ui.set('1000:0' as never, { key: '1000:0' as never, hash: 'x', own: true, seq: 3 });
    const changes = [put('ui', '1000:0', a), put('ui', '2000:0', b)];
    const pending: PendingIndex = { entities: new Set([changes[1]!.entity]), truncates: new Map() };
    assert.equal(adoptHeldChanges(snapshot([a, b], []), task, changes, pending, NO_HOLD).entries, 0);
    assert.equal(task.streams.ui.get('1000:0' as never)?.hash, 'x');
  });

  it('adopts HistoryItem fields equal to a pulled value only in a task with no synced fields', () => {
    const task = freshTask();
    const changes = [meta({ task: 'a task', tokensIn: 5 }, 1), meta({ tokensIn: 9, totalCost: 2 }, 2)];
    const adopted = adoptHeldChanges(snapshot([], [], { id: taskId, task: 'a task', tokensIn: 5, totalCost: 3 }), task, changes, NONE, NO_HOLD);
    assert.equal(adopted.fields, 2);
    assert.deepEqual(task.fields, { task: 'a task', tokensIn: 5 });
    assert.deepEqual(task.clocks, { task: stamp(1), tokensIn: stamp(1) });

    const synced = freshTask();
    synced.fields = { task: 'another' };
    assert.equal(adoptHeldChanges(snapshot([], [], { id: taskId, task: 'a task' }), synced, [meta({ task: 'a task' }, 3)], NONE, NO_HOLD).fields, 0);
    assert.deepEqual(synced.fields, { task: 'another' });
  });

  it('adopts nothing in a deleted task', () => {
    const task = freshTask();
    task.deleted = stamp(5);
    const a = ui(1000, 'a');
    assert.equal(adoptHeldChanges(snapshot([a], []), task, [put('ui', '1000:0', a)], NONE, NO_HOLD).entries, 0);
  });

  it('tracks an adopted put of this device as its own', () => {
    const task = freshTask();
    const a = ui(1000, 'a');
    const own: ServerChange = { ...put('ui', '1000:0', a), deviceId: asDeviceId('me') };
    adoptHeldChanges(snapshot([a], []), task, [own], NONE, NO_HOLD);
    assert.equal(task.streams.ui.get('1000:0' as never)?.own, true);
  });

  it('while catching up, holds what matches no put, and adopts it when a later version matches', () => {
    const task = freshTask();
    const v2 = ui(1000, 'v2');
    const item = { id: taskId, task: 'renamed', tokensIn: 5 };
    const first = adoptHeldChanges(snapshot([v2], [], item), task, [put('ui', '1000:0', ui(1000, 'v1')), meta({ task: 'first', tokensIn: 5 }, 1)], NONE, HOLD);
    assert.equal(first.entries, 0);
    assert.deepEqual([...task.held], [['ui/1000:0', hashJson(v2)]]);
    assert.deepEqual([...task.heldFields].sort(), ['id', 'task']);
    assert.deepEqual(task.fields, { tokensIn: 5 });
    // The apply tracks v1 (seq of the first put); a later batch brings v2 and a later title.
    task.streams.ui.set('1000:0' as never, { key: '1000:0' as never, hash: hashJson(ui(1000, 'v1')), own: false, seq: 1 });
    const later = [put('ui', '1000:0', v2), meta({ task: 'renamed' }, 2)];
    const second = adoptHeldChanges(snapshot([v2], [], item), task, later, NONE, HOLD);
    assert.deepEqual({ entries: second.entries, fields: second.fields }, { entries: 1, fields: 1 });
    assert.equal(task.held.size, 0);
    assert.deepEqual([...task.heldFields], ['id']);
    assert.equal(task.streams.ui.get('1000:0' as never)?.seq, later[0]!.seq);
    assert.equal((task.fields as Record<string, unknown>)['task'], 'renamed');
  });

  it('leaves no untracked entry below a tracked occurrence of its timestamp: held while catching up, named for detection after', () => {
    const x2 = ui(1000, 'x2');
    const y = ui(1000, 'y');
    const z = ui(1000, 'z');
    const caughtUp = freshTask();
    const adopted = adoptHeldChanges(snapshot([x2, y, z], []), caughtUp, [put('ui', '1000:1', y)], NONE, NO_HOLD);
    assert.equal(adopted.entries, 1);
    assert.deepEqual([...adopted.siblings], ['ui/1000:0'], 'not 1000:2: above every tracked one, it leaves no hole');
    const catchingUp = freshTask();
    const held = adoptHeldChanges(snapshot([x2, y, z], []), catchingUp, [put('ui', '1000:1', y)], NONE, HOLD);
    assert.deepEqual([...held.siblings], []);
    assert.deepEqual([...catchingUp.held], [['ui/1000:0', hashJson(x2)]]);
    assert.deepEqual([...catchingUp.streams.ui.keys()].sort(), ['1000:0', '1000:1']);
  });

  it('marks a held field whose disk value is older than the tracked one as stale, not a local edit', () => {
    const task = freshTask();
    task.fields = { task: 'T3' };
    task.clocks = { task: stamp(9) };
    task.metaSeq = 5;
    task.heldFields.add('task');
    const adopted = adoptHeldChanges(snapshot([], [], { id: taskId, task: 'T2' }), task, [meta({ task: 'T2' }, 4)], NONE, HOLD);
    assert.deepEqual(adopted.staleFields, ['task']);
    assert.equal((task.fields as Record<string, unknown>)['task'], 'T3');
  });

  it('releases what is held once caught up', () => {
    const state = new SyncState();
    const task = state.task('roo-code', taskId);
    task.held.set('ui/1000:0', 'h');
    task.heldFields.add('task');
    assert.equal(releaseHeld(state), 2);
    assert.equal(task.held.size + task.heldFields.size, 0);
  });
});

