/**
 * Command queue upkeep on PGlite: the retention purge deletes finished commands past their age
 * and nothing else, the 1 s expiry sweep has an index that matches it (migration 0003), and the
 * queue depth metric counts what is not yet acknowledged.
 */
import assert from 'node:assert/strict';
import { deleteFinishedCommands, enqueueCommand, queueDepth, recordAttempt, respondToCommand } from '../../../server/commands/command-store';
import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { useMigratedPglite } from '../../support/pglite';
import { insertUser } from '../db/fixtures';

const HOUR_MS = 3_600_000;

describe('command-store', () => {
  const database = useMigratedPglite();
  let db: PgliteDatabase;

  beforeEach(() => {
    db = database();
  });

  async function insertDevice(userId: string): Promise<string> {
    const { rows } = await db.query<{ id: string }>(`INSERT INTO devices (user_id, name) VALUES ($1, 'device') RETURNING id`, [userId]);
    return rows[0]!.id;
  }

  /** A command row in `status`, finished (when not open) `finishedAgoMs` ago, created a day ago. */
  async function insertCommand(userId: string, target: string, status: string, finishedAgoMs: number | null): Promise<string> {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO command_queue (user_id, target_device_id, kind, status, expires_at, completed_at, created_at)
       VALUES ($1, $2, 'task.cancel', $3, now() + interval '1 hour', $4, now() - interval '1 day') RETURNING id`,
      [userId, target, status, finishedAgoMs === null ? null : new Date(Date.now() - finishedAgoMs)],
    );
    return rows[0]!.id;
  }

  async function remaining(): Promise<string[]> {
    const { rows } = await db.query<{ id: string }>('SELECT id FROM command_queue ORDER BY id');
    return rows.map((r) => r.id);
  }

  describe('#deleteFinishedCommands', () => {
    it('deletes done, failed, expired and cancelled commands finished before the cut-off, and keeps open and recent ones', async () => {
      const user = await insertUser(db);
      const target = await insertDevice(user);
      const old = [];
      for (const status of ['done', 'failed', 'expired', 'cancelled']) old.push(await insertCommand(user, target, status, 2 * HOUR_MS));
      const kept = [
        await insertCommand(user, target, 'done', 60_000),
        await insertCommand(user, target, 'expired', 60_000),
        await insertCommand(user, target, 'queued', null),
        await insertCommand(user, target, 'delivered', null),
        await insertCommand(user, target, 'progress', null),
      ];
      const removed = await deleteFinishedCommands(db, new Date(Date.now() - HOUR_MS));
      assert.equal(removed, old.length);
      assert.deepEqual(await remaining(), [...kept].sort());
    });

    it('deletes more than one batch', async () => {
      const user = await insertUser(db);
      const target = await insertDevice(user);
      await db.query(
        `INSERT INTO command_queue (user_id, target_device_id, kind, status, expires_at, completed_at)
         SELECT $1, $2, 'task.cancel', 'done', now(), now() - interval '2 hours' FROM generate_series(1, 5001)`,
        [user, target],
      );
      assert.equal(await deleteFinishedCommands(db, new Date(Date.now() - HOUR_MS)), 5001);
      assert.deepEqual(await remaining(), []);
    });
  });

  describe('#queueDepth', () => {
    it('counts commands not yet acknowledged: waiting ones and sent ones being re-sent, not answered or expired ones', async () => {
      const user = await insertUser(db);
      const sender = await insertDevice(user);
      const target = await insertDevice(user);
      const send = () =>
        enqueueCommand(db, { userId: user, fromDeviceId: sender, targetDeviceId: target, command: { kind: 'task.start', text: 'x' }, ttlMs: HOUR_MS });
      const answer = (commandId: string, status: 'delivered' | 'progress' | 'done') =>
        respondToCommand(db, { userId: user, targetDeviceId: target, commandId, status });

      await send(); // target offline: never sent
      const resent = await send();
      assert.equal(await recordAttempt(db, resent.commandId, 1_000), 1);
      assert.equal(await recordAttempt(db, resent.commandId, 2_000), 2); // sent twice, no answer yet
      assert.equal(await queueDepth(db), 2);

      await answer((await send()).commandId, 'delivered');
      await answer((await send()).commandId, 'progress');
      await answer((await send()).commandId, 'done');
      await db.query(`UPDATE command_queue SET expires_at = now() - interval '1 second' WHERE id = $1`, [(await send()).commandId]);
      assert.equal(await queueDepth(db), 2, 'acknowledged, finished and expired commands are not counted');

      await answer(resent.commandId, 'delivered');
      assert.equal(await queueDepth(db), 1, 'the re-sent command stops counting once the target acknowledges it');
    });
  });

  describe('command_queue_expiry_idx', () => {
    it('serves the expiry sweep (open statuses, expires_at <= now())', async () => {
      const plan = await db.transaction(async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off');
        const { rows } = await tx.query<Record<string, unknown>>(
          `EXPLAIN (FORMAT JSON) UPDATE command_queue SET status = 'expired', completed_at = now(), updated_at = now()
            WHERE status IN ('queued', 'delivered', 'progress') AND expires_at <= now()`,
        );
        return JSON.stringify(rows);
      });
      assert.match(plan, /command_queue_expiry_idx/);
    });
  });
});
