/**
 * Pushes a device's queued changes with several pushes awaiting their reply at once (a bounded
 * window), so the device reads, encodes and sends the next batches while the relay commits the
 * earlier ones; a relay that finds several pushes of one socket waiting commits them in one
 * transaction. Replies are settled one at a time, in the order the pushes were sent.
 *
 * The durable outbox semantics do not change: a change leaves the outbox only when `settle`
 * acknowledges it after its reply. A change is never in two pushes in flight at once
 * (`nextBatch` is told which clientSeqs are in flight); after a failure nothing more is sent,
 * the pushes in flight are waited for, and their changes stay queued (the relay answers a
 * change it already stored as a replay, with its original seq).
 */
import type { ClientChange } from '../model/changes';
import type { PushOutcome } from '../ports/sync-transport';

/** Pushes in flight by default: with 500-change pushes the relay commits up to 2,000 at once. */
export const DEFAULT_PUSH_WINDOW = 4;

export interface PushWindowOptions {
  /** Pushes awaiting their reply at once (at least 1). */
  window: number;
  /** The next batch, in clientSeq order, leaving out the clientSeqs in flight; empty: nothing to send now. */
  nextBatch(inFlight: ReadonlySet<number>): ClientChange[];
  send(batch: ClientChange[]): Promise<PushOutcome>;
  /** Handles one reply (acknowledges, settles conflicts). False: send nothing more (what is in flight is still settled). */
  settle(batch: ClientChange[], outcome: PushOutcome): Promise<boolean>;
}

/**
 * Sends until `nextBatch` has nothing left and every reply is settled. Rejects with the first
 * failure of `send` or `settle`, once every push in flight has been answered or has failed.
 */
export async function pushWindowed(options: PushWindowOptions): Promise<void> {
  const window = Math.max(1, Math.floor(options.window));
  const inFlight = new Set<number>();
  const sent: Array<{ batch: ClientChange[]; reply: Promise<PushOutcome> }> = [];
  let sending = true;
  let failure: { error: unknown } | undefined;
  const fill = (): void => {
    while (sending && sent.length < window) {
      const batch = options.nextBatch(inFlight);
      if (batch.length === 0) return;
      for (const change of batch) inFlight.add(change.clientSeq);
      let reply: Promise<PushOutcome>;
      try {
        reply = options.send(batch);
      } catch (error) {
        reply = Promise.reject(error);
      }
      // Settled in order below; a rejection met after an earlier failure is not left unhandled.
      reply.catch(() => undefined);
      sent.push({ batch, reply });
    }
  };
  fill();
  while (sent.length > 0) {
    const { batch, reply } = sent.shift()!;
    try {
      const outcome = await reply;
      if (!failure && !(await options.settle(batch, outcome))) sending = false;
    } catch (error) {
      failure ??= { error };
      sending = false;
    } finally {
      for (const change of batch) inFlight.delete(change.clientSeq);
    }
    fill();
  }
  if (failure) throw failure.error;
}
