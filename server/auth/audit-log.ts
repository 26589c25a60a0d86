/**
 * Security events in the `audit_log` table (sign-ins, refreshes, token reuse, revocations,
 * account changes). Never holds a password or token; an email appears only as its hash.
 */
import { createHash } from 'node:crypto';
import type { Queryable } from '../db/database';
import type { Logger } from '../observability/logger';

export type AuditOutcome = 'ok' | 'denied' | 'error';

export interface AuditEvent {
  action: string;
  outcome?: AuditOutcome;
  userId?: string | null;
  deviceId?: string | null;
  ip?: string | null;
  userAgent?: string | null;
  metadata?: Record<string, unknown>;
}

/** Request facts recorded with an event. */
export interface ClientInfo {
  ip?: string | null;
  userAgent?: string | null;
}

/** The form an email takes in audit rows and rate-limit counts (lower-cased, sha256). */
export function emailKey(email: string): string {
  return createHash('sha256').update(email.trim().toLowerCase(), 'utf8').digest('hex');
}

/**
 * Writes one event. A failure is logged, not thrown: an audit write must not turn a
 * successful sign-in into an error.
 */
export async function writeAudit(db: Queryable, event: AuditEvent, logger?: Logger): Promise<void> {
  try {
    await db.query(
      `INSERT INTO audit_log (user_id, device_id, action, outcome, ip, user_agent, metadata)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
      [
        event.userId ?? null,
        event.deviceId ?? null,
        event.action,
        event.outcome ?? 'ok',
        event.ip ?? null,
        event.userAgent ? event.userAgent.slice(0, 256) : null,
        JSON.stringify(event.metadata ?? {}),
      ],
    );
  } catch (err) {
    logger?.error('audit event not written', { err, action: event.action });
  }
}
