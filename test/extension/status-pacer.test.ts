import assert from 'node:assert/strict';
import { StatusPacer, type Schedule } from '../../extension/device-worker/status-pacer';

/** A schedule the test runs by hand. */
function manualSchedule(): { schedule: Schedule; pending: () => number; runAll: () => void } {
  let queue: { run: () => void; cancelled: boolean }[] = [];
  return {
    schedule: (run) => {
      const entry = { run, cancelled: false };
      queue.push(entry);
      return { cancel: () => (entry.cancelled = true) };
    },
    pending: () => queue.filter((e) => !e.cancelled).length,
    runAll: () => {
      const due = queue;
      queue = [];
      for (const e of due) if (!e.cancelled) e.run();
    },
  };
}

describe('StatusPacer', () => {
  it('sends the first change at once and holds the next ones until the pause ends, then sends one', () => {
    const clock = manualSchedule();
    let sent = 0;
    const pacer = new StatusPacer(() => sent++, 100, clock.schedule);
    pacer.changed();
    assert.equal(sent, 1);
    pacer.changed();
    pacer.changed();
    pacer.changed();
    assert.equal(sent, 1);
    clock.runAll();
    assert.equal(sent, 2);
    // that send opened a new pause; nothing held, so it ends quietly
    clock.runAll();
    assert.equal(sent, 2);
    assert.equal(clock.pending(), 0);
  });

  it('flush sends a held change at once, and only a held one', () => {
    const clock = manualSchedule();
    let sent = 0;
    const pacer = new StatusPacer(() => sent++, 100, clock.schedule);
    pacer.flush();
    assert.equal(sent, 0);
    pacer.changed();
    pacer.changed();
    pacer.flush();
    assert.equal(sent, 2);
    clock.runAll();
    assert.equal(sent, 2);
  });

  it('close drops a held change and the pause', () => {
    const clock = manualSchedule();
    let sent = 0;
    const pacer = new StatusPacer(() => sent++, 100, clock.schedule);
    pacer.changed();
    pacer.changed();
    pacer.close();
    assert.equal(clock.pending(), 0);
    clock.runAll();
    assert.equal(sent, 1);
  });
});
