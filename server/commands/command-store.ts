/**
 * The SQL of the remote-command queue (table `command_queue`, DESIGN.md "Server": priority,
 * expiry, delivery acknowledgement, retry, queued while the target is offline).
 *
 * Statuses: `queued` (not yet acknowledged by the target; `attempts` counts deliveries sent),
 * `delivered` / `progress` (the target answered: redelivery stops), `done` / `failed` /
 * `expired` (finished). `payload` holds `{ command, ttlMs, notified }`: the command as the sender
 * gave it, its time to live, and whether the sender has been told the final result (a sender
 * that was offline is told when it connects).
 *
 * Every state change is one conditional UPDATE, so two relay processes racing on the same row
 * (two expiry sweeps, a response and an expiry) change it once.
 */
import { SyncError } from '../../core/errors';
import type { RemoteCommand } from '../../core/protocol/messages';
import type { Database, Queryable } from '../db/database';

/** Error codes of the command queue (sent to devices in `error` frames or `command.result` errors). */
export const CommandErrorCode = {
  /** Target device unknown, revoked or another user's: one answer for all of them. */
  TargetUnknown: 'COMMAND_TARGET_UNKNOWN',
  /** A device may not send a command to itself. */
  TargetSelf: 'COMMAND_TARGET_SELF',
  /** The task has an unfinished command from another device (the later sender gets this). */
  TaskBusy: 'COMMAND_TASK_BUSY',
  /** `command.response` for a command this device was not sent, or that already finished. */
  Unknown: 'COMMAND_UNKNOWN',
  /** A queued command's target device was revoked (in the `failed` result's error). */
  TargetRevoked: 'COMMAND_TARGET_REVOKED',
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const OPEN = `('queued', 'delivered', 'progress')`;
/** Statuses of a command that is over (the predicate of command_queue_finished_idx, migration 0003). */
const FINISHED = `('done', 'failed', 'expired', 'cancelled')`;
/** Rows one DELETE of the retention purge removes (short statements, short locks). */
const PURGE_BATCH = 5_000;

export type CommandStatus = 'queued' | 'delivered' | 'progress' | 'done' | 'failed' | 'expired';

/** One row of the queue as the relay uses it. */
export interface QueuedCommand {
  commandId: string;
  userId: string;
  fromDeviceId: string;
  targetDeviceId: string;
  command: RemoteCommand;
  priority: number;
  ttlMs: number;
  status: CommandStatus;
  attempts: number;
  /** Epoch ms. */
  expiresAt: number;
}

interface Row {
  id: string;
  user_id: string;
  source_device_id: string | null;
  target_device_id: string;
  payload: { command: RemoteCommand; ttlMs: number; notified?: boolean };
  priority: number;
  status: CommandStatus;
  attempts: number;
  expires_at: Date;
  result: unknown;
  error: { code: string; message: string } | null;
}

const COLUMNS = 'id, user_id, source_device_id, target_device_id, payload, priority, status, attempts, expires_at, result, error';

function toCommand(row: Row): QueuedCommand {
  return {
    commandId: row.id,
    userId: row.user_id,
    fromDeviceId: row.source_device_id ?? '',
    targetDeviceId: row.target_device_id,
    command: row.payload.command,
    priority: row.priority,
    ttlMs: Number(row.payload.ttlMs),
    status: row.status,
    attempts: row.attempts,
    expiresAt: row.expires_at.getTime(),
  };
}

/** A finished command and its outcome, for the `command.result` its sender gets. */
export interface FinishedCommand extends QueuedCommand {
  result?: unknown;
  error?: { code: string; message: string };
}

function toFinished(row: Row): FinishedCommand {
  const finished: FinishedCommand = toCommand(row);
  if (row.result !== null && row.result !== undefined) finished.result = row.result;
  if (row.error) finished.error = row.error;
  return finished;
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * Queues a command from `fromDeviceId` to another device of the same user. Throws
 * COMMAND_TARGET_UNKNOWN, COMMAND_TARGET_SELF or COMMAND_TASK_BUSY. The target's device row is
 * locked for the transaction, so two senders racing for one task are decided one after the
 * other: the later one gets COMMAND_TASK_BUSY, on any relay process.
 */
export async function enqueueCommand(
  db: Database,
  input: { userId: string; fromDeviceId: string; targetDeviceId: string; command: RemoteCommand; ttlMs: number },
): Promise<QueuedCommand> {
  if (!isUuid(input.targetDeviceId)) throw new SyncError(CommandErrorCode.TargetUnknown, 'no such device');
  if (input.targetDeviceId.toLowerCase() === input.fromDeviceId.toLowerCase()) {
    throw new SyncError(CommandErrorCode.TargetSelf, 'a device cannot command itself');
  }
  return db.transaction(async (tx) => {
    const target = await tx.query(
      'SELECT id FROM devices WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL FOR UPDATE',
      [input.targetDeviceId, input.userId],
    );
    if (target.rowCount === 0) throw new SyncError(CommandErrorCode.TargetUnknown, 'no such device');
    const taskId = input.command.taskId;
    if (taskId !== undefined) {
      const busy = await tx.query(
        `SELECT 1 FROM command_queue
          WHERE user_id = $1 AND target_device_id = $2 AND payload->'command'->>'taskId' = $3
            AND source_device_id IS DISTINCT FROM $4 AND status IN ${OPEN} AND expires_at > now()
          LIMIT 1`,
        [input.userId, input.targetDeviceId, taskId, input.fromDeviceId],
      );
      if (busy.rowCount! > 0) {
        throw new SyncError(CommandErrorCode.TaskBusy, 'the task has an unfinished command from another device', { taskId });
      }
    }
    const { rows } = await tx.query<Row>(
      `INSERT INTO command_queue (user_id, source_device_id, target_device_id, kind, payload, priority, expires_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6, now() + make_interval(secs => $7::double precision / 1000))
       RETURNING ${COLUMNS}`,
      [
        input.userId,
        input.fromDeviceId,
        input.targetDeviceId,
        input.command.kind,
        JSON.stringify({ command: input.command, ttlMs: input.ttlMs, notified: false }),
        Math.trunc(input.command.priority ?? 0),
        input.ttlMs,
      ],
    );
    return toCommand(rows[0]!);
  });
}

/** Unacknowledged, unexpired commands for a device, highest priority first, then oldest first. */
export async function pendingCommands(db: Queryable, userId: string, targetDeviceId: string): Promise<QueuedCommand[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM command_queue
      WHERE user_id = $1 AND target_device_id = $2 AND status = 'queued' AND expires_at > now()
      ORDER BY priority DESC, created_at, id`,
    [userId, targetDeviceId],
  );
  return rows.map(toCommand);
}

/**
 * Records one more delivery attempt of a still unacknowledged command and when the next is due.
 * Returns the attempt number, or null when the command was acknowledged or finished meanwhile.
 */
export async function recordAttempt(db: Queryable, commandId: string, retryInMs: number): Promise<number | null> {
  const { rows } = await db.query<{ attempts: number }>(
    `UPDATE command_queue
        SET attempts = attempts + 1, updated_at = now(),
            next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
      WHERE id = $1 AND status = 'queued' AND expires_at > now()
      RETURNING attempts`,
    [commandId, retryInMs],
  );
  return rows[0]?.attempts ?? null;
}

/** True while a command still waits for its target's first answer. */
export async function isUnacknowledged(db: Queryable, commandId: string): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM command_queue WHERE id = $1 AND status = 'queued' AND expires_at > now()`, [
    commandId,
  ]);
  return rows.length > 0;
}

/**
 * The target's answer to a command. `delivered`/`progress` stop redelivery and keep the command
 * alive for another ttl; `done`/`failed` finish it. Throws COMMAND_UNKNOWN when the command is
 * not this device's or is no longer open.
 */
export async function respondToCommand(
  db: Queryable,
  input: {
    userId: string;
    targetDeviceId: string;
    commandId: string;
    status: 'delivered' | 'progress' | 'done' | 'failed';
    result?: unknown;
    error?: { code: string; message: string };
  },
): Promise<FinishedCommand> {
  if (!isUuid(input.commandId)) throw new SyncError(CommandErrorCode.Unknown, 'no such command for this device');
  const final = input.status === 'done' || input.status === 'failed';
  const { rows } = await db.query<Row>(
    final
      ? `UPDATE command_queue
            SET status = $4, completed_at = now(), updated_at = now(), result = $5::jsonb, error = $6::jsonb,
                delivered_at = coalesce(delivered_at, now())
          WHERE id = $1 AND user_id = $2 AND target_device_id = $3 AND status IN ${OPEN} AND expires_at > now()
          RETURNING ${COLUMNS}`
      : `UPDATE command_queue
            SET status = $4, updated_at = now(), delivered_at = coalesce(delivered_at, now()),
                result = coalesce($5::jsonb, result), error = coalesce($6::jsonb, error),
                expires_at = greatest(expires_at, now() + make_interval(secs => (payload->>'ttlMs')::double precision / 1000))
          WHERE id = $1 AND user_id = $2 AND target_device_id = $3 AND status IN ${OPEN} AND expires_at > now()
          RETURNING ${COLUMNS}`,
    [
      input.commandId,
      input.userId,
      input.targetDeviceId,
      input.status,
      input.result === undefined ? null : JSON.stringify(input.result),
      input.error === undefined ? null : JSON.stringify(input.error),
    ],
  );
  const row = rows[0];
  if (!row) throw new SyncError(CommandErrorCode.Unknown, 'no such command for this device');
  const finished = toFinished(row);
  // The outcome of this answer only (a progress report does not repeat an older result).
  delete finished.result;
  delete finished.error;
  if (input.result !== undefined) finished.result = input.result;
  if (input.error !== undefined) finished.error = input.error;
  return finished;
}

/** Marks every open command past its expiry as expired and returns them (each once, across processes). */
export async function expireDueCommands(db: Queryable): Promise<FinishedCommand[]> {
  const { rows } = await db.query<Row>(
    `UPDATE command_queue SET status = 'expired', completed_at = now(), updated_at = now()
      WHERE status IN ${OPEN} AND expires_at <= now()
      RETURNING ${COLUMNS}`,
  );
  return rows.map(toFinished);
}

/** Fails every open command for a revoked device (COMMAND_TARGET_REVOKED) and returns them. */
export async function failCommandsOfRevokedTarget(db: Queryable, targetDeviceId: string): Promise<FinishedCommand[]> {
  if (!isUuid(targetDeviceId)) return [];
  const error = { code: CommandErrorCode.TargetRevoked, message: 'the target device was revoked' };
  const { rows } = await db.query<Row>(
    `UPDATE command_queue SET status = 'failed', completed_at = now(), updated_at = now(), error = $2::jsonb
      WHERE target_device_id = $1 AND status IN ${OPEN}
      RETURNING ${COLUMNS}`,
    [targetDeviceId, JSON.stringify(error)],
  );
  return rows.map(toFinished);
}

/** Finished commands of a sender whose final result it has not been told yet, oldest first. */
export async function untoldResults(db: Queryable, userId: string, senderDeviceId: string): Promise<FinishedCommand[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM command_queue
      WHERE user_id = $1 AND source_device_id = $2 AND status IN ('done', 'failed', 'expired')
        AND NOT coalesce((payload->>'notified')::boolean, false)
      ORDER BY completed_at, id LIMIT 1000`,
    [userId, senderDeviceId],
  );
  return rows.map(toFinished);
}

/** Records that senders were told these commands' final results. */
export async function markResultsTold(db: Queryable, commandIds: readonly string[]): Promise<void> {
  if (commandIds.length === 0) return;
  await db.query(
    `UPDATE command_queue SET payload = payload || '{"notified": true}'::jsonb WHERE id = ANY($1::uuid[])`,
    [commandIds],
  );
}

/**
 * Deletes finished commands (done, failed, expired, cancelled) that finished before `olderThan`,
 * in batches; returns how many. Open commands are never touched, whatever their age. A sender
 * that stays offline past the retention age no longer gets the result of such a command.
 */
export async function deleteFinishedCommands(db: Queryable, olderThan: Date): Promise<number> {
  let removed = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM command_queue WHERE id IN (
         SELECT id FROM command_queue WHERE status IN ${FINISHED} AND completed_at < $1 LIMIT ${PURGE_BATCH})`,
      [olderThan],
    );
    removed += rowCount;
    if (rowCount < PURGE_BATCH) return removed;
  }
}

/**
 * Commands not yet acknowledged by their target (the queue depth metric): status `queued`,
 * whether never sent yet (target offline) or sent and being re-sent until the target answers.
 * An answer (`delivered`, `progress`, `done`, `failed`) acknowledges a command; an expired
 * one no longer waits.
 */
export async function queueDepth(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM command_queue WHERE status = 'queued' AND expires_at > now()`,
  );
  return rows[0]?.n ?? 0;
}
