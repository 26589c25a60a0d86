/**
 * docs/server.md's options table lists exactly the options of RELAY_OPTIONS (the table the
 * `roo-sync server` flags, `--help` and validation come from), each with its flag and variable.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RELAY_OPTIONS } from '../../server/config/options';

describe('docs/server.md', () => {
  describe('#options table', () => {
    it('has one row per relay option, naming its flag and environment variable', () => {
      const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'server.md'), 'utf8');
      const section = doc.slice(doc.indexOf('## Options'), doc.indexOf('\n## ', doc.indexOf('## Options') + 1));
      const rows = [...section.matchAll(/^\| `--([a-z0-9-]+)` \| `([A-Z0-9_]+)` \|/gm)].map((m) => `--${m[1]} ${m[2]}`);
      const expected = RELAY_OPTIONS.map((option) => `--${option.flag} ${option.env}`);
      assert.deepEqual([...rows].sort(), [...expected].sort());
    });
  });
});
