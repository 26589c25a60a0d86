/**
 * docker/scripts/backup.sh and restore.sh for real against the CI PostgreSQL: a database with
 * two users' data is backed up, restored into a fresh database, and every user's data has the
 * same content hashes as before.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { asDeviceId, asTaskId, asUserId, type UserId } from '../../core/ids';
import { hashJson, sha256Hex } from '../../core/model/hash';
import { appendChanges } from '../../server/db/change-log';
import type { Database, Queryable } from '../../server/db/database';
import { migrate } from '../../server/db/migrator';
import { openDatabase } from '../../server/db/open-database';
import { createTestDatabase, type TestDatabase } from '../support/postgres';
import { generateTaskHistory } from '../support/task-fixtures';

const run = promisify(execFile);
const SCRIPTS = join(__dirname, '..', '..', 'docker', 'scripts');

/** Tables holding a user's data, each with the columns that identify a row's order. */
const USER_TABLES: Record<string, string> = {
  users: 'id',
  devices: 'id',
  sync_operations: 'seq',
  sync_log_heads: 'user_id',
  blobs: 'hash',
};

/** One hash per user over every row of theirs, table by table, in a stable order. */
async function contentHashes(db: Queryable, users: readonly UserId[]): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const user of users) {
    const parts: string[] = [];
    for (const [table, order] of Object.entries(USER_TABLES)) {
      const column = table === 'users' ? 'id' : 'user_id';
      const { rows } = await db.query(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE ${column} = $1 ORDER BY ${order}`, [user]);
      parts.push(`${table}:${hashJson(rows.map((r) => r.row))}`);
    }
    result[user] = sha256Hex(parts.join('\n'));
  }
  return result;
}

async function seedUser(db: Database, email: string, seed: number): Promise<UserId> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) VALUES ($1, 'scrypt$test') RETURNING id`,
    [email],
  );
  const userId = asUserId(rows[0]!.id);
  const device = await db.query<{ id: string }>(
    `INSERT INTO devices (user_id, name, platform) VALUES ($1, 'laptop', 'linux') RETURNING id`,
    [userId],
  );
  const deviceId = asDeviceId(device.rows[0]!.id);
  const task = generateTaskHistory({ seed, messages: 40 });
  const changes = task.ui.map((entry, i) => ({
    clientSeq: i + 1,
    baseSeq: null,
    body: {
      type: 'stream.put' as const,
      source: 'roo-code' as const,
      taskId: asTaskId(task.taskId),
      stream: 'ui' as const,
      key: `${(entry as { ts: number }).ts}:0`,
      hash: hashJson(entry),
      entry,
    },
  }));
  await appendChanges(db, userId, deviceId, changes);
  const bytes = Buffer.from(`file content of ${email}`);
  await db.query(`INSERT INTO blobs (user_id, hash, size, content) VALUES ($1, $2, $3, $4)`, [
    userId,
    sha256Hex(bytes),
    bytes.length,
    bytes,
  ]);
  return userId;
}

describe('docker/scripts backup.sh and restore.sh', function () {
  this.timeout(120_000);
  let source: TestDatabase;
  let target: TestDatabase;
  let dir: string;

  before(async () => {
    source = await createTestDatabase();
    target = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'roo-backup-'));
  });

  after(async () => {
    await source?.drop();
    await target?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('restores into a fresh database with every user’s data hashing the same', async () => {
    const db = await openDatabase({ databaseUrl: source.url });
    let users: UserId[];
    let before: Record<string, string>;
    try {
      await migrate(db);
      users = [await seedUser(db, 'ada@example.org', 1), await seedUser(db, 'grace@example.org', 2)];
      before = await contentHashes(db, users);
    } finally {
      await db.close();
    }

    const backup = await run(join(SCRIPTS, 'backup.sh'), ['-d', source.url, '-o', dir, '-k', '2']);
    const file = backup.stdout.trim().split('\n').at(-1)!;
    assert.match(file, /roo-sync-\d{8}T\d{6}Z\.dump$/);

    await run(join(SCRIPTS, 'restore.sh'), ['-d', target.url, file]);

    const restored = await openDatabase({ databaseUrl: target.url });
    try {
      assert.deepEqual(await contentHashes(restored, users), before);
      const { rows } = await restored.query<{ n: string }>('SELECT count(*) AS n FROM sync_operations');
      assert.equal(Number(rows[0]!.n), 80);
    } finally {
      await restored.close();
    }
  });

  it('keeps only the newest dumps when rotating', async () => {
    const rotation = mkdtempSync(join(tmpdir(), 'roo-rotate-'));
    try {
      for (const stamp of ['20200101T000000Z', '20210101T000000Z', '20220101T000000Z']) {
        writeFileSync(join(rotation, `roo-sync-${stamp}.dump`), 'old');
      }
      const { stdout } = await run(join(SCRIPTS, 'backup.sh'), ['-d', source.url, '-o', rotation, '-k', '2']);
      const newest = basename(stdout.trim().split('\n').at(-1)!);
      assert.deepEqual(readdirSync(rotation).sort(), ['roo-sync-20220101T000000Z.dump', newest].sort());
    } finally {
      rmSync(rotation, { recursive: true, force: true });
    }
  });

  it('refuses a file that is not a dump, with a clear error', async () => {
    await assert.rejects(run(join(SCRIPTS, 'restore.sh'), ['-d', target.url, __filename]), (err: { stderr: string }) => {
      assert.match(err.stderr, /not a readable pg_dump custom-format file/);
      return true;
    });
  });
});
