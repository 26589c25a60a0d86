import assert from 'node:assert/strict';
import { ParsedStreamCache } from '../../../core/node/stores/parsed-stream-cache';
import { parseStreamText } from '../../../core/tracking/stream-text';

const api = (n: number): string => JSON.stringify(Array.from({ length: n }, (_, i) => ({ role: 'user', content: `message ${i}` })));

describe('ParsedStreamCache', () => {
  describe('#setWritten', () => {
    it('keeps the written text and parses it at the next get, reusing the parse it replaced', () => {
      const cache = new ParsedStreamCache();
      cache.set('/t/api.json', { ...parseStreamText('api', api(3)), version: 'v1' });
      cache.setWritten('/t/api.json', 'api', api(4), 'v2');
      const parsed = cache.get('/t/api.json')!;
      assert.equal(parsed.version, 'v2');
      assert.equal(parsed.entries.length, 4);
      assert.equal(parsed.reused, 3, 'the unchanged prefix of the replaced parse is taken over');
      assert.equal(cache.get('/t/api.json'), parsed, 'parsed once');
    });

    it('does not parse a text that is never read again', () => {
      const cache = new ParsedStreamCache();
      // Not JSON: parsing it would fail; writing it must not.
      cache.setWritten('/t/api.json', 'api', '[{"role":', 'v1');
      assert.equal(cache.size, 1);
      assert.equal(cache.get('/t/api.json'), undefined, 'a text that does not parse is dropped when read');
      assert.equal(cache.size, 0);
    });

    it('does not keep a chain of unread texts: a write over an unread write parses the newest whole', () => {
      const cache = new ParsedStreamCache();
      cache.setWritten('/t/api.json', 'api', api(2), 'v1');
      cache.setWritten('/t/api.json', 'api', api(3), 'v2');
      const parsed = cache.get('/t/api.json')!;
      assert.deepEqual([parsed.version, parsed.entries.length, parsed.reused], ['v2', 3, 0]);
    });

    it('counts written texts against the size bound', () => {
      const cache = new ParsedStreamCache(32, 100);
      cache.setWritten('/a', 'api', api(1), 'v1');
      cache.setWritten('/b', 'api', api(2), 'v1');
      cache.setWritten('/c', 'api', api(2), 'v1');
      assert.equal(cache.get('/a'), undefined, 'the oldest went past the bound');
      assert.equal(cache.get('/c')!.entries.length, 2);
    });
  });
});
