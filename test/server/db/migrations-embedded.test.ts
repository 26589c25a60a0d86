import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { EMBEDDED_FILE, renderEmbeddedModule } from '../../../server/db/migrations/embed';
import { loadMigrations } from '../../../server/db/migrator';
import { isSyncError } from '../../../core/errors';

describe('migration files', () => {
  describe('embedded.generated.ts', () => {
    it('matches the .sql files (run `npx tsx server/db/migrations/embed.ts` when this fails)', () => {
      assert.equal(readFileSync(EMBEDDED_FILE, 'utf8'), renderEmbeddedModule());
    });
  });

  describe('loadMigrations', () => {
    it('pairs up and down files in version order with the sha256 of the up file', () => {
      const migrations = loadMigrations({
        '0002_b.up.sql': 'B',
        '0002_b.down.sql': 'b',
        '0001_a.up.sql': 'A',
        '0001_a.down.sql': 'a',
      });
      assert.deepEqual(
        migrations.map((m) => [m.version, m.name, m.up, m.down]),
        [
          [1, 'a', 'A', 'a'],
          [2, 'b', 'B', 'b'],
        ],
      );
      assert.equal(migrations[0]?.checksum, '559aead08264d5795d3909718cdd05abd49572e84fe55590eef31a88a08fdffd');
    });

    it('rejects malformed sets with MIGRATION_FILES_INVALID', () => {
      const sets: Array<Record<string, string>> = [
        { 'initial.up.sql': 'x', 'initial.down.sql': 'x' },
        { '0001_a.up.sql': 'x' },
        { '0001_a.up.sql': 'x', '0001_a.down.sql': 'x', '0001_b.up.sql': 'x', '0001_b.down.sql': 'x' },
        { '0000_a.up.sql': 'x', '0000_a.down.sql': 'x' },
      ];
      for (const files of sets) {
        assert.throws(() => loadMigrations(files), (err: unknown) => isSyncError(err, 'MIGRATION_FILES_INVALID'));
      }
    });

    it('finds the embedded initial migration', () => {
      const [first] = loadMigrations();
      assert.equal(first?.version, 1);
      assert.equal(first?.name, 'initial');
      assert.match(first!.up, /CREATE TABLE sync_operations/);
    });
  });
});
