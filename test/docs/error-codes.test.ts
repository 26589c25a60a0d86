import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CloseCode, FINAL_CLOSE_CODES } from '../../core/protocol/close-codes';
import { CODE_PATTERN, documentedCodes, listSourceFiles, scanSourceText, scanSources, type CodeSite } from './error-code-scan';

const REPO = resolve(__dirname, '../..');
const SOURCE_ROOTS = ['core', 'server', 'cli', 'extension', 'web'] as const;
const DOC_PATH = join(REPO, 'docs/errors.md');

function readDoc(): string {
  return readFileSync(DOC_PATH, 'utf8');
}

/** `GoingAway` -> `GOING_AWAY`, as the client names a close in `status.lastError`. */
function upperSnake(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

describe('docs/errors.md', () => {
  describe('#code tables', () => {
    it('lists every error code found in core, server, cli, extension and web', () => {
      const sites = scanSources(REPO, SOURCE_ROOTS);
      assert.ok(sites.length > 0, 'the scan found no codes at all: the scanner is broken');
      const documented = new Set(documentedCodes(readDoc()).map((row) => row.code));
      const missing = new Map<string, CodeSite>();
      for (const site of sites) {
        if (!documented.has(site.code) && !missing.has(site.code)) missing.set(site.code, site);
      }
      const report = [...missing.values()]
        .sort((a, b) => a.code.localeCompare(b.code))
        .map((site) => `  ${site.code} (${site.file}:${site.line})`)
        .join('\n');
      assert.equal(missing.size, 0, `${missing.size} error code(s) missing from docs/errors.md:\n${report}`);
    });

    it('lists no code twice', () => {
      const rows = documentedCodes(readDoc());
      const seen = new Map<string, number>();
      const twice: string[] = [];
      for (const row of rows) {
        const first = seen.get(row.code);
        if (first !== undefined) twice.push(`  ${row.code} (lines ${first} and ${row.line})`);
        else seen.set(row.code, row.line);
      }
      assert.deepEqual(twice, [], `codes listed more than once:\n${twice.join('\n')}`);
    });

    it('lists only UPPER_SNAKE codes that still occur in the sources', () => {
      const rows = documentedCodes(readDoc());
      assert.ok(rows.length > 100, `only ${rows.length} code rows parsed: is the table format broken?`);
      const sourceText = SOURCE_ROOTS.flatMap((root) => listSourceFiles(join(REPO, root)))
        .map((file) => readFileSync(file, 'utf8'))
        .join('\n');
      const malformed = rows.filter((row) => !CODE_PATTERN.test(row.code)).map((row) => `  ${row.code} (line ${row.line})`);
      assert.deepEqual(malformed, [], `not UPPER_SNAKE:\n${malformed.join('\n')}`);
      const stale = rows
        .filter((row) => !new RegExp(`\\b${row.code}\\b`).test(sourceText))
        .map((row) => `  ${row.code} (line ${row.line}, section ${row.section})`);
      assert.deepEqual(stale, [], `documented codes that no source mentions any more:\n${stale.join('\n')}`);
    });
  });

  describe('#close codes', () => {
    /** Rows of the close code table, keyed by number. */
    function closeRows(): Map<number, string[]> {
      const rows = new Map<number, string[]>();
      for (const line of readDoc().split(/\r?\n/)) {
        const cells = line.split('|').map((cell) => cell.trim());
        if (line.startsWith('|') && /^\d{4}$/.test(cells[1] ?? '')) rows.set(Number(cells[1]), cells.slice(1, -1));
      }
      return rows;
    }

    it('lists every CloseCode with its number, name and the client lastError code', () => {
      const rows = closeRows();
      for (const [name, value] of Object.entries(CloseCode)) {
        const row = rows.get(value);
        assert.ok(row, `close code ${value} (${name}) is not in the close code table`);
        assert.equal(row[1], `\`${name}\``, `close code ${value} should be named ${name}`);
        assert.equal(row[3], `\`CLOSE_${upperSnake(name)}\``, `close code ${value}: client lastError code`);
      }
      assert.equal(rows.size, Object.keys(CloseCode).length, 'the table lists close codes that CloseCode does not have');
    });

    it('marks exactly the FINAL_CLOSE_CODES as final', () => {
      const final = [...closeRows()].filter(([, cells]) => /final/.test(cells[4] ?? '')).map(([code]) => code).sort();
      assert.deepEqual(final, [...FINAL_CLOSE_CODES].sort());
    });
  });
});

describe('scanSourceText', () => {
  const codesOf = (text: string) => [...new Set(scanSourceText(text, 'x.ts').map((site) => site.code))].sort();

  it('finds codes in new SyncError, code objects, code properties, code helpers and code fallbacks', () => {
    const text = `
      throw new SyncError('A_THROWN', 'm');
      export const ThingErrorCode = { Bad: 'B_OBJECT', Limit: 5 } as const;
      export const STORE_ERROR_CODES = { io: 'B_UPPER_OBJECT' };
      send({ type: 'error', code: 'C_FRAME', message: 'm' });
      function refuse(code: string, message: string): never { throw new SyncError(code, message); }
      refuse('D_HELPER', 'm');
      class W { private report(code: string) {} run() { this.report('D_METHOD'); } }
      const fail = (code: string) => new SyncError(code, 'm');
      fail('D_ARROW');
      const code = isSyncError(e) ? e.code : 'E_FALLBACK';
      const other = e.code === 'X' ? 'E_OTHER_BRANCH' : e.code;
      function codeOf(error: unknown, fallback: string) { return error instanceof SyncError ? error.code : fallback; }
      note(codeOf(err, 'F_HELPER_FALLBACK'));
    `;
    assert.deepEqual(codesOf(text), [
      'A_THROWN', 'B_OBJECT', 'B_UPPER_OBJECT', 'C_FRAME', 'D_ARROW', 'D_HELPER', 'D_METHOD', 'E_FALLBACK', 'E_OTHER_BRANCH',
      'F_HELPER_FALLBACK',
    ]);
  });

  it('ignores comments, SQL, environment variable names, errno names and lower-case strings', () => {
    const text = `
      // throw new SyncError('IN_LINE_COMMENT', 'm');
      /** Throws new SyncError('IN_DOC_COMMENT'). code: 'IN_DOC' */
      await db.query('SELECT 1', []);
      const url = process.env['DATABASE_URL'] ?? env.REDIS_URL;
      problems.push({ option: 'WS_MAX_FRAME_BYTES', reason: 'too small' });
      throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
      if (err.code === 'ENOENT') return null;
      const CLOSE = { Normal: 1000 };
      throw new SyncError(dynamicCode, 'm');
      send({ code: 'lower_case' });
      other('NOT_A_HELPER', 1);
      function stop(kind: string, code: string) {}
      stop('torn', 'NOT_FIRST_CODE_PARAM');
    `;
    assert.deepEqual(codesOf(text), []);
  });

  it('reports the line of each site', () => {
    const sites = scanSourceText(`\n\nthrow new SyncError('ON_LINE_THREE', 'm');\n`, 'y.ts');
    assert.deepEqual(sites, [{ code: 'ON_LINE_THREE', file: 'y.ts', line: 3 }]);
  });
});

describe('documentedCodes', () => {
  it('reads the first column of code tables only', () => {
    const markdown = [
      '## Area',
      '| code | meaning | what to do |',
      '|---|---|---|',
      '| `ONE_CODE` | m | d |',
      '',
      '| defect | kind | meaning |',
      '|---|---|---|',
      '| `NOT_A_CODE` | torn | m |',
      '',
      '| code | meaning | what to do |',
      '|---|---|---|',
      '| `TWO_CODE` | m, see `OTHER` | d |',
    ].join('\n');
    assert.deepEqual(documentedCodes(markdown), [
      { code: 'ONE_CODE', line: 4, section: 'Area' },
      { code: 'TWO_CODE', line: 12, section: 'Area' },
    ]);
  });
});
