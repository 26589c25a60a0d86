import assert from 'node:assert/strict';
import type { ApiMessage, ClineMessage } from '../../../core/stores/messages';
import { taskIdEra } from '../../../core/stores/task-ids';
import { createRng } from '../../support/rng';
import { generateApiMessage, generateTaskHistory, generateUiMessage } from '../../support/task-fixtures';

describe('task-fixtures', () => {
  describe('#generateTaskHistory', () => {
    it('is deterministic per seed and differs between seeds', () => {
      const a = JSON.stringify(generateTaskHistory({ seed: 42, messages: 80, images: true }));
      assert.equal(JSON.stringify(generateTaskHistory({ seed: 42, messages: 80, images: true })), a);
      assert.notEqual(JSON.stringify(generateTaskHistory({ seed: 43, messages: 80, images: true })), a);
    });

    it('gives exactly the number of ui messages asked for, starting with the say:text task', () => {
      for (const messages of [1, 2, 3, 4, 57]) {
        const t = generateTaskHistory({ seed: messages, messages });
        assert.equal(t.ui.length, messages);
        assert.equal(t.ui[0]!.type, 'say');
        assert.equal(t.ui[0]!.say, 'text');
        assert.equal(t.historyItem['task'], t.ui[0]!.text!.trim());
      }
    });

    it('makes ids of the era asked for', () => {
      for (const era of ['timestamp', 'uuid4', 'uuid7'] as const) {
        assert.equal(taskIdEra(generateTaskHistory({ seed: 1, messages: 3, era }).taskId), era);
      }
    });

    it('writes api_req_started texts with tokens and cost, and the request before v3.28', () => {
      const t = generateTaskHistory({ seed: 5, messages: 200, legacyRequest: true });
      const infos = t.ui.filter((m) => m.say === 'api_req_started').map((m) => JSON.parse(m.text!) as Record<string, unknown>);
      assert.ok(infos.length > 10);
      for (const info of infos) {
        for (const f of ['tokensIn', 'tokensOut', 'cacheWrites', 'cacheReads', 'cost']) assert.equal(typeof info[f], 'number', f);
        assert.equal(typeof info['request'], 'string');
      }
    });

    it('holds the usual mix: tool asks with file contents, command output, reasoning, duplicate ts, a completion', () => {
      const t = generateTaskHistory({ seed: 9, messages: 400 });
      const kinds = new Set(t.ui.map((m: ClineMessage) => `${m.type}:${m.ask ?? m.say}`));
      for (const k of ['ask:tool', 'say:command_output', 'say:reasoning', 'ask:command', 'say:completion_result', 'ask:completion_result']) {
        assert.ok(kinds.has(k), k);
      }
      const ts = t.ui.map((m) => m.ts);
      assert.ok(new Set(ts).size < ts.length, 'some messages share a ts');
      assert.ok(ts.every((v, i) => i === 0 || v >= ts[i - 1]!), 'ts never goes back');
      const blocks = t.api.flatMap((m: ApiMessage) => (Array.isArray(m.content) ? m.content : [])).map((b) => b.type);
      assert.ok(blocks.includes('tool_use') && blocks.includes('tool_result'));
    });

    it('adds base64 images when asked, and a partial last message', () => {
      const t = generateTaskHistory({ seed: 11, messages: 50, images: true, partialLast: true });
      assert.match(t.ui[0]!.images![0]!, /^data:image\/png;base64,/);
      assert.ok(JSON.stringify(t.api).includes('"type":"image"'));
      assert.equal(t.ui[t.ui.length - 1]!.partial, true);
      assert.equal(t.historyItem['status'], 'active');
    });

    it('produces sizes like real tasks (about 1 KB per ui message, more with legacy requests)', () => {
      const plain = JSON.stringify(generateTaskHistory({ seed: 12, messages: 600 }).ui).length;
      const legacy = JSON.stringify(generateTaskHistory({ seed: 12, messages: 600, legacyRequest: true }).ui).length;
      assert.ok(plain > 400_000 && plain < 2_500_000, `plain ${plain}`);
      assert.ok(legacy > plain, `legacy ${legacy}`);
    });

    it('shapes the HistoryItem for Cline when asked', () => {
      const item = generateTaskHistory({ seed: 13, messages: 10, historyShape: 'cline' }).historyItem;
      assert.equal(typeof item['cwdOnTaskInitialization'], 'string');
      assert.equal(item['workspace'], undefined);
      assert.equal(item['mode'], undefined);
    });
  });

  describe('#generateUiMessage / #generateApiMessage', () => {
    it('make one more message at the given ts', () => {
      const rng = createRng(3);
      const m = generateUiMessage(rng, 1234);
      assert.equal(m.ts, 1234);
      assert.ok(m.type === 'say' || m.type === 'ask');
      assert.equal(generateApiMessage(rng, 'assistant', 99).role, 'assistant');
    });
  });
});
