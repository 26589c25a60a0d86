/**
 * `roo-sync user list` against a PGlite database (injected through the command's `open`
 * dependency), and the exit-code mapping every command shares.
 */
import assert from 'node:assert/strict';
import { Command, CommanderError } from 'commander';
import { SyncError } from '../../core/errors';
import { registerUserCommands } from '../../cli/commands/user';
import { registerUserListCommand } from '../../cli/commands/user-list';
import { EXIT, errorLine, exitCodeFor } from '../../cli/exit-codes';
import type { Database } from '../../server/db/database';
import type { PgliteDatabase } from '../../server/db/pglite-database';
import { borrowedDatabase, useMigratedPglite } from '../support/pglite';

describe('roo-sync user list', () => {
  const database = useMigratedPglite();
  let db: PgliteDatabase;
  let output: string;

  beforeEach(() => {
    db = database();
    output = '';
  });

  const borrowed = (): Database => borrowedDatabase(db);

  async function run(args: string[]): Promise<void> {
    const program = new Command('roo-sync').exitOverride();
    program.configureOutput({ writeOut: (text) => void (output += text), writeErr: (text) => void (output += text) });
    const deps = { open: async () => borrowed(), readSecret: async () => 'a strong password' };
    registerUserCommands(program, deps);
    registerUserListCommand(program, deps);
    await program.parseAsync(['node', 'roo-sync', ...args]);
  }

  it('says there are no users yet', async () => {
    await run(['user', 'list']);
    assert.match(output, /no users/);
  });

  it('lists every account with its active devices, as a table and as JSON', async () => {
    await run(['user', 'add', 'ann@example.com']);
    await run(['user', 'add', 'bob@example.com']);
    const ann = (await db.query<{ id: string }>("SELECT id FROM users WHERE email = 'ann@example.com'")).rows[0]!;
    await db.query("INSERT INTO devices (user_id, name) VALUES ($1, 'laptop'), ($1, 'phone')", [ann.id]);
    await db.query("UPDATE devices SET revoked_at = now() WHERE name = 'phone'");
    output = '';
    await run(['user', 'list']);
    assert.match(output, /ann@example\.com\s+user\s+1\s/);
    assert.match(output, /bob@example\.com\s+user\s+0\s/);
    output = '';
    await run(['user', 'list', '--json']);
    const listed = JSON.parse(output) as Array<{ email: string; devices: number; disabledAt: string | null }>;
    assert.deepEqual(listed.map((u) => [u.email, u.devices, u.disabledAt]), [['ann@example.com', 1, null], ['bob@example.com', 0, null]]);
  });
});

describe('exitCodeFor', () => {
  it('maps errors to the documented exit codes', () => {
    assert.equal(exitCodeFor(new SyncError('CLI_NOT_SIGNED_IN', 'x')), EXIT.auth);
    assert.equal(exitCodeFor(new SyncError('AUTH_TOKEN_INVALID', 'x')), EXIT.auth);
    assert.equal(exitCodeFor(new SyncError('RELAY_UNREACHABLE', 'x')), EXIT.unreachable);
    assert.equal(exitCodeFor(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } })), EXIT.unreachable);
    assert.equal(exitCodeFor(new SyncError('CLI_USAGE', 'x')), EXIT.usage);
    assert.equal(exitCodeFor(new CommanderError(1, 'commander.unknownOption', 'x')), EXIT.usage);
    assert.equal(exitCodeFor(new SyncError('DB_CONNECT_FAILED', 'x')), EXIT.error);
  });

  it('prints the code and message, never a stack', () => {
    const line = errorLine(new SyncError('STORE_IO', 'disk full'));
    assert.equal(line, 'roo-sync: [STORE_IO] disk full');
  });
});
