/**
 * mergeTaskCopies (backfill's merge of a relay copy into a local one) and mapHistoryItem
 * (moving a HistoryItem between assistants' layouts).
 */
import assert from 'node:assert/strict';
import type { TaskId } from '../../../core/ids';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { mapHistoryItem } from '../../../core/stores/history-mapping';
import { mergeTaskCopies } from '../../../core/stores/task-merge';

const id = '1700000000000' as TaskId;
const snap = (ui: unknown[], api: unknown[], historyItem: Record<string, unknown> | null): TaskSnapshot => ({ source: 'roo-code', taskId: id, ui, api, historyItem: historyItem ? { id, ...historyItem } : null });

describe('mergeTaskCopies', () => {
  it('adds remote messages the local copy lacks, in ts order, keeping local versions of shared keys', () => {
    const local = snap([{ ts: 1, text: 'a' }, { ts: 3, text: 'local c' }], [{ role: 'user' }], { ts: 3, task: 'a' });
    const remote = snap([{ ts: 1, text: 'a' }, { ts: 2, text: 'b' }, { ts: 3, text: 'remote c' }, { ts: 4, text: 'd' }], [{ role: 'user' }, { role: 'assistant' }], { ts: 4, task: 'other', mode: 'code' });
    const merged = mergeTaskCopies(local, remote);
    assert.deepEqual(merged.snapshot.ui, [{ ts: 1, text: 'a' }, { ts: 2, text: 'b' }, { ts: 3, text: 'local c' }, { ts: 4, text: 'd' }]);
    assert.deepEqual(merged.snapshot.api, [{ role: 'user' }, { role: 'assistant' }]);
    assert.deepEqual(merged.snapshot.historyItem, { id, ts: 3, task: 'a', mode: 'code' });
    assert.deepEqual(merged.added, { ui: 2, api: 1 });
    assert.equal(merged.changed, true);
  });

  it('keeps a longer local copy as it is (nothing to write), counters take the larger', () => {
    const local = snap([{ ts: 1 }, { ts: 2 }], [{ role: 'user' }, { role: 'assistant' }], { tokensIn: 50, totalCost: 1 });
    const remote = snap([{ ts: 1 }], [{ role: 'user' }], { tokensIn: 10, totalCost: 2 });
    const merged = mergeTaskCopies(local, remote);
    assert.deepEqual(merged.snapshot.ui, local.ui);
    assert.deepEqual(merged.snapshot.api, local.api);
    assert.deepEqual(merged.snapshot.historyItem, { id, tokensIn: 50, totalCost: 2 });
    assert.deepEqual(merged.fields, ['totalCost']);
    const same = mergeTaskCopies(local, snap([{ ts: 1 }], [], { tokensIn: 1 }));
    assert.equal(same.changed, false);
  });
});

describe('mapHistoryItem', () => {
  it('maps workspace to cwdOnTaskInitialization for Cline and keeps every other field', () => {
    const item = { id: 'x', number: 3, ts: 5, task: 't', workspace: '/w', mode: 'code', oddField: { kept: true } };
    assert.deepEqual(mapHistoryItem(item, 'roo-code', 'cline'), { ...item, cwdOnTaskInitialization: '/w' });
    assert.deepEqual(mapHistoryItem(item, 'roo-code', 'kilo-code'), item);
  });

  it('gives a Cline task a workspace and a number for the Roo layouts', () => {
    const item = { id: 'x', ts: 5, task: 't', cwdOnTaskInitialization: '/w', isFavorited: true };
    assert.deepEqual(mapHistoryItem(item, 'cline', 'zoo-code'), { ...item, workspace: '/w', number: 0 });
  });
});
