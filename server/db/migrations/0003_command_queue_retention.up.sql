-- roo-sync relay schema: command queue upkeep.
-- The expiry sweep (every second, server/commands/command-store.ts expireDueCommands) looks for
-- open commands past their expiry: a partial index on expires_at with exactly the sweep's
-- status list keeps that a short index scan however many finished rows the table holds.
-- The retention job (server/accounts/retention.ts) deletes finished commands by completed_at.

CREATE INDEX command_queue_expiry_idx ON command_queue (expires_at)
  WHERE status IN ('queued', 'delivered', 'progress');
CREATE INDEX command_queue_finished_idx ON command_queue (completed_at)
  WHERE status IN ('done', 'failed', 'expired', 'cancelled');
