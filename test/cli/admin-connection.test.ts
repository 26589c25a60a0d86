/**
 * The connection options of the administration commands (cli/commands/admin-connection.ts and
 * db.ts), with the real openDatabase on PGlite data directories in a temporary folder:
 * commands that need an existing database refuse a --data-dir without one (and create
 * nothing), only `db migrate` and `user add` create one, and --redis-url is offered only where
 * it does something.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, CommanderError } from 'commander';
import { isSyncError } from '../../core/errors';
import { registerDbCommands } from '../../cli/commands/db';
import { registerDbCompactCommand } from '../../cli/commands/db-compact';
import { registerDeviceCommands } from '../../cli/commands/device';
import { registerUserCommands } from '../../cli/commands/user';

const REPO = resolve(__dirname, '../..');

/** The admin commands as cli/main.ts registers them, output captured. */
function program(output: { text: string }): Command {
  const root = new Command('roo-sync').exitOverride();
  root.configureOutput({ writeOut: (text) => { output.text += text; }, writeErr: (text) => { output.text += text; } });
  registerDbCommands(root);
  registerDbCompactCommand(root, { readSecret: async () => 'a strong password' });
  registerUserCommands(root, { readSecret: async () => 'a strong password' });
  registerDeviceCommands(root);
  return root;
}

async function run(args: string[]): Promise<string> {
  const output = { text: '' };
  await program(output).parseAsync(['node', 'roo-sync', ...args]);
  return output.text;
}

async function help(args: string[]): Promise<string> {
  const output = { text: '' };
  await assert.rejects(program(output).parseAsync(['node', 'roo-sync', ...args, '--help']), (err: unknown) => {
    return err instanceof CommanderError && err.code === 'commander.helpDisplayed';
  });
  return output.text;
}

describe('administration commands: connection options', function () {
  this.timeout(120_000);
  let root: string;

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'roo-sync-admin-'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  describe('a --data-dir without a database', () => {
    const readOnly = [
      ['db', 'status'],
      ['db', 'validate'],
      ['db', 'rollback', '0'],
      ['db', 'compact'],
      ['device', 'list', 'ann@example.com'],
      ['device', 'revoke', '00000000-0000-4000-8000-000000000000'],
      ['user', 'delete', 'ann@example.com'],
    ];

    for (const args of readOnly) {
      it(`is refused by \`${args.join(' ')}\` with DB_DATA_DIR_NOT_FOUND, and nothing is created`, async () => {
        const missing = join(root, 'nope', 'x');
        await assert.rejects(run([...args, '--data-dir', missing]), (err: unknown) => isSyncError(err, 'DB_DATA_DIR_NOT_FOUND'));
        assert.equal(existsSync(join(root, 'nope')), false);
      });
    }

    it('is refused when the directory exists but holds no database, and is left as it was', async () => {
      const empty = join(root, 'empty');
      mkdirSync(empty);
      await assert.rejects(run(['db', 'validate', '--data-dir', empty]), (err: unknown) => isSyncError(err, 'DB_DATA_DIR_NOT_FOUND'));
      assert.deepEqual(readdirSync(empty), []);
    });

    it('makes the real `roo-sync db validate` exit 1 with the code on stderr', () => {
      const missing = join(root, 'typo', 'x');
      const child = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'cli/main.ts'), 'db', 'validate', '--data-dir', missing], {
        cwd: REPO,
        encoding: 'utf8',
        env: { ...process.env, DATABASE_URL: '', DATA_DIR: '' },
        timeout: 60_000,
      });
      assert.equal(child.status, 1, child.stderr);
      assert.match(child.stderr, /\[DB_DATA_DIR_NOT_FOUND\] no embedded database in /);
      assert.equal(existsSync(join(root, 'typo')), false);
    });

    it('is created by `db migrate`, after which `db validate` and `device list` work on it', async () => {
      const fresh = join(root, 'fresh');
      assert.match(await run(['db', 'migrate', '--data-dir', fresh]), /now at version \d+/);
      assert.match(await run(['db', 'validate', '--data-dir', fresh]), /^valid: \d+ applied migration/m);
      await assert.rejects(run(['device', 'list', 'ann@example.com', '--data-dir', fresh]), (err: unknown) => isSyncError(err, 'USER_NOT_FOUND'));
    });
  });

  describe('--redis-url', () => {
    it('is offered by the commands that revoke devices, with help saying what it does', async () => {
      for (const args of [['device', 'revoke'], ['user', 'delete']]) {
        const text = await help(args);
        assert.match(text, /--redis-url <url>/, args.join(' '));
        assert.match(text.replace(/\s+/g, ' '), /running relays close the revoked devices' sockets and drop their cached sessions at once/, args.join(' '));
        assert.match(text, /--redis-key-prefix <prefix>/, args.join(' '));
      }
    });

    it('is not offered where it does nothing (db compact, device list, user add, db *)', async () => {
      for (const args of [['db', 'compact'], ['device', 'list'], ['user', 'add'], ['db', 'status'], ['db', 'migrate']]) {
        const text = await help(args);
        assert.doesNotMatch(text, /--redis/, args.join(' '));
      }
    });

    it('is rejected as an unknown option by db compact', async () => {
      await assert.rejects(run(['db', 'compact', '--redis-url', 'redis://127.0.0.1:6379', '--data-dir', join(root, 'never')]), (err: unknown) => {
        return err instanceof CommanderError && err.code === 'commander.unknownOption';
      });
      assert.equal(existsSync(join(root, 'never')), false);
    });
  });
});
