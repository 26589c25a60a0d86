/** statementTimer (server/db/query-observer.ts): what reaches the hooks. */
import assert from 'node:assert/strict';
import { RELAY_DEFAULTS } from '../../../server/config/relay-config';
import { DEFAULT_SLOW_QUERY_MS, statementTimer } from '../../../server/db/query-observer';

describe('statementTimer', () => {
  it('defaults to the relay default slow-query threshold (DB_SLOW_QUERY_MS)', () => {
    assert.equal(DEFAULT_SLOW_QUERY_MS, RELAY_DEFAULTS.database.slowQueryMs);
  });

  it('reports every statement to onQuery and only the slow ones to onSlowQuery, with the SQL text only', () => {
    const seen: Array<[string, string]> = [];
    const start = statementTimer({
      slowQueryMs: 0,
      onQuery: (_ms, sql) => seen.push(['query', sql]),
      onSlowQuery: ({ sql }) => seen.push(['slow', sql]),
    });
    start('SELECT 1')();
    assert.deepEqual(seen, [['query', 'SELECT 1'], ['slow', 'SELECT 1']]);
    const none: string[] = [];
    statementTimer({ slowQueryMs: 60_000, onQuery: (_ms, sql) => none.push(sql), onSlowQuery: () => none.push('slow') })('SELECT 2')();
    assert.deepEqual(none, ['SELECT 2']);
  });

  it('ignores a hook that throws', () => {
    const stop = statementTimer({ onQuery: () => { throw new Error('hook'); } })('SELECT 1');
    assert.doesNotThrow(stop);
  });
});
