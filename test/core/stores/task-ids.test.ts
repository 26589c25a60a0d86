import assert from 'node:assert/strict';
import { isTaskFolderName, isValidTaskId, taskIdEra, taskIdTime } from '../../../core/stores/task-ids';
import { makeTaskId } from '../../support/task-fixtures';
import { createRng } from '../../support/rng';

describe('task-ids', () => {
  describe('#taskIdEra', () => {
    it('tells the three id generations apart', () => {
      const rng = createRng(5);
      const at = Date.UTC(2025, 9, 1);
      assert.equal(taskIdEra(makeTaskId(rng, 'timestamp', at)), 'timestamp');
      assert.equal(taskIdEra(makeTaskId(rng, 'uuid4', at)), 'uuid4');
      assert.equal(taskIdEra(makeTaskId(rng, 'uuid7', at)), 'uuid7');
      assert.equal(taskIdEra('01JABCDEFGHJKMNPQRSTVWXYZ0'), 'other');
    });
  });

  describe('#taskIdTime', () => {
    it('reads the creation time from timestamp and UUID v7 ids', () => {
      const at = Date.UTC(2025, 10, 3, 4, 5, 6, 789);
      assert.equal(taskIdTime(makeTaskId(createRng(1), 'uuid7', at)), at);
      assert.equal(taskIdTime(String(at)), at);
      assert.equal(taskIdTime(makeTaskId(createRng(1), 'uuid4', at)), null);
    });
  });

  describe('#isTaskFolderName', () => {
    it('skips indexes, hidden entries, temp files and lock folders', () => {
      for (const name of ['_index.json', '_backup', '.DS_Store', '.ui_messages.json.new_1_ab.tmp', 'x.lock', 'a.tmp']) {
        assert.equal(isTaskFolderName(name), false, name);
      }
      for (const name of ['1733000000000', '0199110a-4501-7d8d-ba42-27c384325e4b']) assert.equal(isTaskFolderName(name), true, name);
    });
    it('refuses ids that could leave the tasks folder', () => {
      for (const id of ['..', '../x', 'a/b', 'a\\b', '', 'a\u0000b']) assert.equal(isValidTaskId(id), false, JSON.stringify(id));
    });
  });
});
