/**
 * docs/server.md's options table lists exactly the options of RELAY_OPTIONS (the table the
 * `roo-sync server` flags, `--help` and validation come from), each with its flag and variable.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerServerCommand } from '../../cli/commands/server';
import { loadRelayConfig } from '../../server/config/load-config';
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

  describe('#projections', () => {
    it('agrees with `roo-sync server --help` on the default and the accepted spellings (regression: help said "default true", the docs "on")', () => {
      const program = new Command('roo-sync').exitOverride();
      let help = '';
      program.configureOutput({ writeOut: (text) => { help += text; } });
      registerServerCommand(program);
      assert.throws(() => program.parse(['node', 'roo-sync', 'server', '--help']));
      const flat = help.replace(/\s+/g, ' ');
      const helpText = /--projections <value> (.*?\))\s--/.exec(flat)?.[1] ?? '';
      assert.match(helpText, /default on\)$/, helpText);
      const doc = readFileSync(join(__dirname, '..', '..', 'docs', 'server.md'), 'utf8');
      const row = doc.split('\n').find((line) => line.startsWith('| `--projections` |')) ?? '';
      assert.match(row, /^\| `--projections` \| `PROJECTIONS` \| `on` \|/);
      const spellings = ['on', 'off', '1', '0', 'true', 'false', 'yes', 'no'];
      for (const spelling of spellings) {
        assert.ok(loadRelayConfig({ env: { PROJECTIONS: spelling.toUpperCase() } }), spelling);
        assert.ok(row.includes(`\`${spelling}\``), `docs name ${spelling}`);
        assert.ok(new RegExp(`\\b${spelling}\\b`).test(helpText), `help names ${spelling}`);
      }
      assert.throws(() => loadRelayConfig({ env: { PROJECTIONS: 'enabled' } }), /PROJECTIONS/);
    });
  });
});
