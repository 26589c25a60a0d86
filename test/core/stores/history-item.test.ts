import assert from 'node:assert/strict';
import { compareHistoryItemsNewestFirst, isRooTaskIndex, parseApiRequestInfo, rebuildHistoryItem, sumApiTotals, upsertHistoryEntry } from '../../../core/stores/history-item';
import { generateTaskHistory } from '../../support/task-fixtures';

describe('history-item', () => {
  describe('#rebuildHistoryItem', () => {
    it('matches the HistoryItem the assistant wrote, for every id era', () => {
      for (const era of ['timestamp', 'uuid4', 'uuid7'] as const) {
        const t = generateTaskHistory({ seed: 31, messages: 120, era, legacyRequest: era === 'timestamp' });
        const item = rebuildHistoryItem(t.taskId, t.ui)!;
        for (const field of ['id', 'ts', 'task', 'tokensIn', 'tokensOut', 'cacheWrites', 'cacheReads', 'totalCost']) {
          assert.equal(item[field], t.historyItem[field], `${era} ${field}`);
        }
      }
    });

    it('trims the task text and skips trailing resume asks for ts', () => {
      const ui = [
        { ts: 100, type: 'say', say: 'text', text: '  fix the bug \n' },
        { ts: 200, type: 'say', say: 'api_req_started', text: JSON.stringify({ tokensIn: 5, tokensOut: 7, cost: 0.25 }) },
        { ts: 300, type: 'say', say: 'api_req_started', text: JSON.stringify({ tokensIn: 1, tokensOut: 1, cacheReads: 10, cost: 0.5 }) },
        { ts: 400, type: 'ask', ask: 'resume_task' },
        { ts: 500, type: 'ask', ask: 'resume_completed_task' },
      ];
      const item = rebuildHistoryItem('1700000000000', ui, { number: 0 })!;
      assert.deepEqual(item, { number: 0, id: '1700000000000', ts: 300, task: 'fix the bug', tokensIn: 6, tokensOut: 8, cacheWrites: 0, cacheReads: 10, totalCost: 0.75 });
    });

    it('returns null for a task without messages', () => {
      assert.equal(rebuildHistoryItem('x1', []), null);
    });

    it('ignores api_req_started texts that are not JSON and non-numeric counters', () => {
      const ui = [
        { ts: 1, type: 'say', say: 'text', text: 't' },
        { ts: 2, type: 'say', say: 'api_req_started', text: '{"tokensIn": 3, "cost"' },
        { ts: 3, type: 'say', say: 'api_req_started', text: JSON.stringify({ tokensIn: '9', tokensOut: 4 }) },
      ];
      assert.deepEqual(sumApiTotals(ui), { tokensIn: 0, tokensOut: 4, cacheWrites: 0, cacheReads: 0, totalCost: 0 });
      assert.equal(parseApiRequestInfo(ui[1]), null);
    });
  });

  describe('#upsertHistoryEntry', () => {
    const a = { id: 'a', ts: 1 };
    const b = { id: 'b', ts: 3 };
    it('replaces in place, appends new ones and removes with null', () => {
      assert.deepEqual(upsertHistoryEntry([a, b], 'a', { id: 'a', ts: 9 }), [{ id: 'a', ts: 9 }, b]);
      assert.deepEqual(upsertHistoryEntry([a], 'b', b), [a, b]);
      assert.deepEqual(upsertHistoryEntry([a, b], 'a', null), [b]);
    });
    it('sorts newest first with compareHistoryItemsNewestFirst', () => {
      assert.deepEqual([a, b].sort(compareHistoryItemsNewestFirst), [b, a]);
    });
  });

  describe('#isRooTaskIndex', () => {
    it('accepts the _index.json shape and refuses others', () => {
      assert.equal(isRooTaskIndex({ version: 1, updatedAt: 1, entries: [{ id: 'a' }] }), true);
      assert.equal(isRooTaskIndex([{ id: 'a' }]), false);
      assert.equal(isRooTaskIndex({ version: 1, entries: [{ ts: 1 }] }), false);
    });
  });
});
