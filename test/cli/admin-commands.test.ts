/**
 * `roo-sync user add|delete`, `roo-sync device list|revoke` and `roo-sync db compact` against a
 * PGlite database (injected through the commands' `open` dependency).
 */
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { isSyncError } from '../../core/errors';
import { registerDbCompactCommand } from '../../cli/commands/db-compact';
import { registerDeviceCommands } from '../../cli/commands/device';
import { registerUserCommands } from '../../cli/commands/user';
import { listDevices } from '../../server/accounts/devices';
import { findUserByEmail } from '../../server/accounts/users';
import { AuthService } from '../../server/auth/auth-service';
import { SessionValidator } from '../../server/auth/access-tokens';
import { verifyPassword } from '../../server/auth/passwords';
import { MemoryCache } from '../../server/cache/memory-cache';
import { MemoryPubSub } from '../../server/cache/memory-pubsub';
import { appendChanges, logHead } from '../../server/db/change-log';
import type { Database } from '../../server/db/database';
import type { PgliteDatabase } from '../../server/db/pglite-database';
import { borrowedDatabase, useMigratedPglite } from '../support/pglite';
import { newDeviceId, streamPut } from '../server/db/fixtures';

describe('administration commands', () => {
  const database = useMigratedPglite();
  let db: PgliteDatabase;
  let output: string;

  beforeEach(() => {
    db = database();
    output = '';
  });

  const borrowed = (): Database => borrowedDatabase(db);

  async function run(args: string[], secret = 'a strong password'): Promise<void> {
    const program = new Command('roo-sync').exitOverride();
    program.configureOutput({ writeOut: (text) => { output += text; }, writeErr: (text) => { output += text; } });
    const deps = { open: async () => borrowed(), readSecret: async () => secret };
    program.command('db');
    registerDbCompactCommand(program, deps);
    registerUserCommands(program, deps);
    registerDeviceCommands(program, deps);
    await program.parseAsync(['node', 'roo-sync', ...args]);
  }

  async function signInDevice(email: string, name: string): Promise<string> {
    const sessions = await SessionValidator.start({ db, cache: new MemoryCache(), pubsub: new MemoryPubSub(), ttlSeconds: 60 });
    try {
      const auth = new AuthService({ db, sessions, accessTokenTtlSeconds: 60, refreshTokenTtlSeconds: 3600 });
      return (await auth.login({ email, password: 'a strong password', device: { name } })).deviceId;
    } finally {
      await sessions.close();
    }
  }

  describe('user add', () => {
    it('creates the user with the password from stdin, never from argv', async () => {
      await run(['user', 'add', 'ann@example.com', '--password-stdin']);
      assert.match(output, /created user ann@example\.com/);
      assert.ok(!output.includes('a strong password'));
      const user = await findUserByEmail(db, 'ann@example.com');
      assert.ok(user && (await verifyPassword('a strong password', user.passwordHash)));
    });

    it('says stdin held no password when it was empty (PASSWORD_MISSING), and creates nobody', async () => {
      await assert.rejects(run(['user', 'add', 'ann@example.com'], ''), (err: unknown) =>
        isSyncError(err, 'PASSWORD_MISSING') && /stdin held no password/.test((err as Error).message));
      assert.equal(await findUserByEmail(db, 'ann@example.com'), null);
    });

    it('refuses a taken email (USER_EXISTS) and a short password (PASSWORD_INVALID)', async () => {
      await run(['user', 'add', 'ann@example.com']);
      await assert.rejects(run(['user', 'add', 'ANN@example.com']), (err: unknown) => isSyncError(err, 'USER_EXISTS'));
      await assert.rejects(run(['user', 'add', 'bob@example.com'], 'short'), (err: unknown) => isSyncError(err, 'PASSWORD_INVALID'));
    });
  });

  describe('device list and revoke', () => {
    it('says "no devices" for a user without any, instead of an empty table', async () => {
      await run(['user', 'add', 'ann@example.com']);
      output = '';
      await run(['device', 'list', 'ann@example.com']);
      assert.equal(output, 'no devices for ann@example.com\n');
    });

    it("lists a user's devices and revokes one", async () => {
      await run(['user', 'add', 'ann@example.com']);
      const laptop = await signInDevice('ann@example.com', 'laptop');
      await signInDevice('ann@example.com', 'phone');
      output = '';
      await run(['device', 'list', 'ann@example.com']);
      assert.match(output, new RegExp(`${laptop}\\s+laptop`));
      assert.match(output, /phone/);
      await run(['device', 'revoke', laptop]);
      assert.match(output, /revoked device/);
      const user = await findUserByEmail(db, 'ann@example.com');
      const devices = await listDevices(db, user!.id);
      assert.ok(devices.find((d) => d.id === laptop)?.revokedAt);
      assert.equal(devices.filter((d) => d.revokedAt).length, 1);
    });

    it('answers an unknown device with DEVICE_NOT_FOUND and an unknown user with USER_NOT_FOUND', async () => {
      await assert.rejects(run(['device', 'revoke', '00000000-0000-4000-8000-000000000000']), (err: unknown) => isSyncError(err, 'DEVICE_NOT_FOUND'));
      await assert.rejects(run(['device', 'revoke', 'nonsense']), (err: unknown) => isSyncError(err, 'DEVICE_NOT_FOUND'));
      await assert.rejects(run(['device', 'list', 'nobody@example.com']), (err: unknown) => isSyncError(err, 'USER_NOT_FOUND'));
    });
  });

  describe('user delete', () => {
    it('removes the account and its devices', async () => {
      await run(['user', 'add', 'ann@example.com']);
      await signInDevice('ann@example.com', 'laptop');
      await run(['user', 'delete', 'ann@example.com']);
      assert.match(output, /deleted user ann@example\.com and 1 device/);
      assert.equal(await findUserByEmail(db, 'ann@example.com'), null);
      const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM devices');
      assert.equal(rows[0]!.n, 0);
      await assert.rejects(run(['user', 'delete', 'ann@example.com']), (err: unknown) => isSyncError(err, 'USER_NOT_FOUND'));
    });
  });

  describe('db compact', () => {
    it("compacts every user's change log", async () => {
      await run(['user', 'add', 'ann@example.com']);
      const user = await findUserByEmail(db, 'ann@example.com');
      const userId = user!.id as Parameters<typeof logHead>[1];
      await appendChanges(db, userId, newDeviceId(), [streamPut(1, '1', { v: 1 }), streamPut(2, '1', { v: 2 })]);
      await run(['db', 'compact', '--older-than-seconds', '0']);
      assert.match(output, /compacted 1 user log\(s\): 1 change\(s\) removed/);
      assert.equal((await logHead(db, userId)).compactedSeq, 1);
    });
  });
});
