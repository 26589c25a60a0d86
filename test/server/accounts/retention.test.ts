/**
 * The retention job compacts every user's change log without breaking catch-up: a device whose
 * cursor predates the compaction point is told to resync (CURSOR_COMPACTED) and a pull from 0
 * still yields the latest state of every entity.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { UserId } from '../../../core/ids';
import { compactAllLogs, purgeFinishedCommands, scheduleCompaction } from '../../../server/accounts/retention';
import { appendChanges, logHead, pullChanges } from '../../../server/db/change-log';
import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { useMigratedPglite } from '../../support/pglite';
import { waitFor } from '../../support/redis';
import { insertUser, newDeviceId, streamPut } from '../db/fixtures';

describe('retention', () => {
  const database = useMigratedPglite();
  let db: PgliteDatabase;

  beforeEach(() => {
    db = database();
  });

  /** Three versions of entry 1 and one of entry 2: seqs 1..4, of which 1 and 2 are superseded. */
  async function seed(user: UserId): Promise<void> {
    const device = newDeviceId();
    await appendChanges(db, user, device, [streamPut(1, '1', { v: 1 }), streamPut(2, '1', { v: 2 }), streamPut(3, '1', { v: 3 }), streamPut(4, '2', { v: 1 })]);
  }

  describe('#compactAllLogs', () => {
    it('compacts every user and keeps catch-up working: an old cursor resyncs, a pull from 0 has the latest of each entity', async () => {
      const ann = await insertUser(db);
      const bob = await insertUser(db);
      await seed(ann);
      await seed(bob);
      const summary = await compactAllLogs(db, 0);
      assert.deepEqual(summary, { users: 2, removed: 4 });

      for (const user of [ann, bob]) {
        assert.equal((await logHead(db, user)).compactedSeq, 2);
        await assert.rejects(pullChanges(db, user, 1, 100), (err: unknown) => isSyncError(err, 'CURSOR_COMPACTED'));
        const resync = await pullChanges(db, user, 0, 100);
        assert.deepEqual(
          resync.changes.map((c) => [c.seq, c.body.type === 'stream.put' ? [c.body.key, c.body.entry] : null]),
          [[3, ['1', { v: 3 }]], [4, ['2', { v: 1 }]]],
        );
        // A device already past the compaction point just carries on.
        assert.deepEqual((await pullChanges(db, user, 3, 100)).changes.map((c) => c.seq), [4]);
      }
    });

    it('keeps changes younger than the retention age', async () => {
      const ann = await insertUser(db);
      await seed(ann);
      assert.deepEqual(await compactAllLogs(db, 3600), { users: 1, removed: 0 });
      assert.equal((await pullChanges(db, ann, 1, 100)).changes.length, 3);
    });
  });

  describe('#purgeFinishedCommands', () => {
    it('deletes finished commands older than the age and keeps younger and open ones', async () => {
      const { ann, finished, recent, open } = await seedCommands();
      assert.equal(await purgeFinishedCommands(db, 3600), 1);
      assert.deepEqual(await commandIds(ann), [recent, open].sort());
      assert.ok(!(await commandIds(ann)).includes(finished));
    });
  });

  /** One command finished two hours ago, one a minute ago, one still queued (all created a day ago). */
  async function seedCommands(): Promise<{ ann: UserId; finished: string; recent: string; open: string }> {
    const ann = await insertUser(db);
    const { rows: devices } = await db.query<{ id: string }>(`INSERT INTO devices (user_id, name) VALUES ($1, 'phone') RETURNING id`, [ann]);
    const insert = async (status: string, completed: string | null): Promise<string> => {
      const { rows } = await db.query<{ id: string }>(
        `INSERT INTO command_queue (user_id, target_device_id, kind, status, expires_at, completed_at, created_at)
         VALUES ($1, $2, 'task.cancel', $3, now() + interval '1 hour', now() - $4::interval, now() - interval '1 day') RETURNING id`,
        [ann, devices[0]!.id, status, completed],
      );
      return rows[0]!.id;
    };
    return { ann, finished: await insert('done', '2 hours'), recent: await insert('failed', '1 minute'), open: await insert('queued', null) };
  }

  async function commandIds(user: UserId): Promise<string[]> {
    const { rows } = await db.query<{ id: string }>('SELECT id FROM command_queue WHERE user_id = $1 ORDER BY id', [user]);
    return rows.map((r) => r.id);
  }

  describe('#scheduleCompaction', () => {
    it('also purges finished commands past commandRetentionSeconds on its interval', async () => {
      const { ann, recent, open } = await seedCommands();
      const schedule = scheduleCompaction({ db, intervalMs: 20, ageSeconds: 3600, commandRetentionSeconds: 3600 });
      try {
        await waitFor(async () => (await commandIds(ann)).length === 2, 'the scheduled command purge');
        assert.deepEqual(await commandIds(ann), [recent, open].sort());
      } finally {
        await schedule.stop();
      }
    });

    it('runs on its interval until stopped', async () => {
      const ann = await insertUser(db);
      await seed(ann);
      const schedule = scheduleCompaction({ db, intervalMs: 20, ageSeconds: 0 });
      try {
        await waitFor(async () => (await logHead(db, ann)).compactedSeq === 2, 'the scheduled compaction');
      } finally {
        await schedule.stop();
        await schedule.stop();
      }
    });
  });
});
