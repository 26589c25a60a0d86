/** web/src/model/ui-messages.ts: how one ClineMessage is shown (pure; runs in Node). */
import assert from 'node:assert/strict';
import { BLOCK_TEXT_LIMIT, imagesOf, totalCost, viewOf, waitingAsk, type UiMessage } from '../../web/src/model/ui-messages';

const say = (say: string, text: string, extra: Partial<UiMessage> = {}): UiMessage => ({ ts: 1, type: 'say', say, text, ...extra });
const ask = (ask: string, text: string, extra: Partial<UiMessage> = {}): UiMessage => ({ ts: 1, type: 'ask', ask, text, ...extra });

describe('ui-messages', () => {
  describe('viewOf', () => {
    it('shows the first say:text as the task and later ones as Markdown', () => {
      assert.deepEqual(viewOf(say('text', 'Do it'), 0), { kind: 'task', text: 'Do it' });
      assert.deepEqual(viewOf(say('text', '**done**'), 3), { kind: 'markdown', text: '**done**' });
    });

    it('reads the cost and tokens of api_req_started, and survives text that is not JSON', () => {
      assert.deepEqual(viewOf(say('api_req_started', JSON.stringify({ cost: 0.012, tokensIn: 10, tokensOut: 5, cacheReads: 2, cancelReason: 'user_cancelled' })), 2), {
        kind: 'request', cost: 0.012, tokensIn: 10, tokensOut: 5, cacheReads: 2, cancelled: 'user_cancelled',
      });
      assert.deepEqual(viewOf(say('api_req_started', 'not json'), 2), { kind: 'request', cost: undefined, tokensIn: undefined, tokensOut: undefined, cacheReads: undefined, cancelled: undefined });
    });

    it('folds reasoning, shows tools, commands, output, questions and errors as their blocks', () => {
      assert.deepEqual(viewOf(say('reasoning', 'thinking'), 1), { kind: 'reasoning', text: 'thinking' });
      assert.deepEqual(viewOf(ask('tool', JSON.stringify({ tool: 'readFile', path: 'a.ts', content: 'x' })), 1), { kind: 'tool', title: 'readFile: a.ts', body: 'x' });
      assert.deepEqual(viewOf(ask('command', 'ls -la'), 1), { kind: 'command', command: 'ls -la' });
      assert.deepEqual(viewOf(say('command_output', 'out'), 1), { kind: 'output', text: 'out' });
      assert.deepEqual(viewOf(ask('followup', JSON.stringify({ question: 'Which?', suggest: [{ answer: 'A' }, 'B', { nope: 1 }] })), 1), { kind: 'question', text: 'Which?', suggestions: ['A', 'B'] });
      assert.equal(viewOf(say('error', 'boom'), 1).kind, 'error');
      assert.equal(viewOf(say('api_req_finished', ''), 1).kind, 'hidden');
      assert.deepEqual(viewOf(say('some_future_say', 'hello'), 1), { kind: 'markdown', text: 'hello', label: 'some_future_say' });
    });

    it('cuts a block longer than the limit and says how much is left out', () => {
      const item = viewOf(say('command_output', 'x'.repeat(BLOCK_TEXT_LIMIT + 10)), 1);
      assert.equal(item.kind, 'output');
      assert.match((item as { text: string }).text, /… \(10 more characters\)$/);
    });
  });

  it('imagesOf keeps only raster data URLs', () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    assert.deepEqual(imagesOf({ ts: 1, type: 'say', images: [png, 'javascript:alert(1)', 'data:image/svg+xml;base64,PHN2Zz4=', 'https://evil.example/x.png', 42] }), [png]);
  });

  it('waitingAsk names an ask waiting for the user, not a partial one or a say', () => {
    assert.equal(waitingAsk([say('text', 'a'), ask('command', 'ls')]), 'command');
    assert.equal(waitingAsk([ask('command', 'ls', { partial: true })]), undefined);
    assert.equal(waitingAsk([ask('command', 'ls'), say('text', 'b')]), undefined);
    assert.equal(waitingAsk([]), undefined);
  });

  it('totalCost sums the cost of the requests', () => {
    assert.equal(totalCost([say('api_req_started', '{"cost":0.5}'), say('text', 'x'), say('api_req_started', '{"cost":0.25}')]), 0.75);
  });
});
