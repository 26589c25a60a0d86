import assert from 'node:assert/strict';
import { canonicalJson, foldMetaBodies, mergeTaskMeta, presentFields, stampFields, type MetaState } from '../../../core/merge/metadata-merge';
import type { TaskMetaBody } from '../../../core/model/changes';
import { asTaskId } from '../../../core/ids';
import { formatHlc } from '../../../core/model/hlc';
import { createRng, type Rng } from '../../support/rng';

const at = (wall: number, device = 'a', counter = 0) => formatHlc({ wall, counter, deviceId: device });

describe('mergeTaskMeta', () => {
  it('keeps, per field, the value with the later clock', () => {
    const a: MetaState = { fields: { task: 'old title', mode: 'code' }, clocks: { task: at(1), mode: at(5) } };
    const b: MetaState = { fields: { task: 'new title', mode: 'architect' }, clocks: { task: at(2, 'b'), mode: at(3, 'b') } };
    assert.deepEqual(mergeTaskMeta(a, b), {
      fields: { mode: 'code', task: 'new title' },
      clocks: { mode: at(5), task: at(2, 'b') },
    });
  });

  it('takes the maximum of counters whatever their clocks', () => {
    const a: MetaState = { fields: { tokensIn: 500, totalCost: 0.2, size: 10 }, clocks: { tokensIn: at(9), totalCost: at(9), size: at(1) } };
    const b: MetaState = { fields: { tokensIn: 700, totalCost: 0.1, size: 'big' }, clocks: { tokensIn: at(1, 'b'), totalCost: at(1, 'b'), size: at(8, 'b') } };
    const merged = mergeTaskMeta(a, b);
    assert.deepEqual(merged.fields, { size: 10, tokensIn: 700, totalCost: 0.2 });
    assert.equal(merged.clocks.tokensIn, at(9));
  });

  it('passes unknown fields through untouched', () => {
    const a: MetaState = { fields: { legacyFlag: { nested: [1, 2] } }, clocks: {} };
    const b: MetaState = { fields: { task: 'x' }, clocks: { task: at(1) } };
    assert.deepEqual(mergeTaskMeta(a, b).fields, { legacyFlag: { nested: [1, 2] }, task: 'x' });
  });

  it('keeps a later removal, so an older value cannot come back', () => {
    const removed: MetaState = { fields: { awaitingChildId: null }, clocks: { awaitingChildId: at(10) } };
    const older: MetaState = { fields: { awaitingChildId: 'child-1' }, clocks: { awaitingChildId: at(4, 'b') } };
    const merged = mergeTaskMeta(older, removed);
    assert.equal(merged.fields.awaitingChildId, null);
    assert.deepEqual(presentFields(merged), {});
  });

  it('decides equal clocks by value, not by argument order', () => {
    const a: MetaState = { fields: { task: 'alpha' }, clocks: { task: at(1) } };
    const b: MetaState = { fields: { task: 'beta' }, clocks: { task: at(1) } };
    assert.deepEqual(mergeTaskMeta(a, b), mergeTaskMeta(b, a));
  });

  describe('is a join (seeded random states)', () => {
    const FIELDS = ['task', 'mode', 'status', 'tokensIn', 'tokensOut', 'totalCost', 'size', 'childIds', 'unknownThing'];
    const DEVICES = ['dev-a', 'dev-b', 'dev-c'];
    const VALUES: unknown[] = ['x', 'y', 1, 2.5, 40, null, ['c1'], { z: 1 }, true];

    function randomState(rng: Rng): MetaState {
      const state: MetaState = { fields: {}, clocks: {} };
      for (const name of FIELDS) {
        if (rng.chance(0.4)) continue;
        state.fields[name] = rng.pick(VALUES);
        if (rng.chance(0.9)) state.clocks[name] = at(rng.int(1, 4), rng.pick(DEVICES), rng.int(0, 1));
      }
      return state;
    }

    const seed = 424242;
    const rng = createRng(seed);
    const cases = Array.from({ length: 400 }, () => [randomState(rng), randomState(rng), randomState(rng)] as const);
    const same = (x: MetaState, y: MetaState, what: string, i: number) =>
      assert.equal(canonicalJson(x), canonicalJson(y), `${what} fails for case ${i} of seed ${seed}`);

    it('is commutative', () => {
      cases.forEach(([a, b], i) => same(mergeTaskMeta(a, b), mergeTaskMeta(b, a), 'commutativity', i));
    });

    it('is associative', () => {
      cases.forEach(([a, b, c], i) => same(mergeTaskMeta(mergeTaskMeta(a, b), c), mergeTaskMeta(a, mergeTaskMeta(b, c)), 'associativity', i));
    });

    it('is idempotent', () => {
      cases.forEach(([a, b], i) => {
        const ab = mergeTaskMeta(a, b);
        same(mergeTaskMeta(ab, ab), ab, 'idempotence', i);
        same(mergeTaskMeta(ab, b), ab, 'absorbing a merged side', i);
      });
    });

    it('foldMetaBodies gives what a device gets applying the bodies one by one (counters keep their largest value)', () => {
      cases.forEach(([a, b, c], i) => {
        const bodies = [a, b, c].map((state) => ({ ...taskMetaBody(), fields: state.fields, clocks: state.clocks }));
        const folded = foldMetaBodies(bodies);
        const applied = [a, b, c].reduce<MetaState>((state, next) => mergeTaskMeta(state, next), { fields: {}, clocks: {} });
        same({ fields: folded.fields, clocks: folded.clocks }, applied, 'folding', i);
      });
    });
  });
});

describe('foldMetaBodies', () => {
  it('keeps the larger counter even when its clock is older (compaction must not lower token counts)', () => {
    const older = { ...taskMetaBody(), fields: { tokensIn: 900, task: 'old title' }, clocks: { tokensIn: at(2), task: at(2) } };
    const newer = { ...taskMetaBody(), fields: { tokensIn: 100, task: 'new title' }, clocks: { tokensIn: at(3), task: at(3) } };
    const folded = foldMetaBodies([older, newer]);
    assert.equal(folded.fields.tokensIn, 900);
    assert.equal(folded.fields.task, 'new title');
  });
});

describe('stampFields', () => {
  it('stamps each named field, a removed one as null', () => {
    const state = stampFields({ id: 't', task: 'new' }, ['task', 'mode'], at(7));
    assert.deepEqual(state, { fields: { task: 'new', mode: null }, clocks: { task: at(7), mode: at(7) } });
  });
});

function taskMetaBody(): TaskMetaBody {
  return { type: 'task.meta', source: 'roo-code', taskId: asTaskId('task-1'), fields: {}, clocks: {} } as TaskMetaBody;
}
