/** createProgress: a bar on a terminal, plain lines off one, nothing with --json. */
import assert from 'node:assert/strict';
import { createProgress } from '../../cli/progress';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const stream = { isTTY, text: '', write(chunk: string) { stream.text += chunk; return true; } };
  return stream as unknown as NodeJS.WriteStream & { text: string };
}

describe('createProgress', () => {
  it('redraws one bar with tasks, MB, rate and ETA on a terminal', () => {
    let now = 0;
    const stream = fakeStream(true);
    const progress = createProgress({ label: 'migrating', quiet: false, stream, now: () => now });
    now = 2000;
    progress.update({ tasksDone: 5, tasksTotal: 10, bytesDone: 10e6, bytesTotal: 20e6 });
    assert.match(stream.text, /^\r\[#{12}-{12}\] migrating 5\/10 tasks, 10\.0\/20\.0 MB, 5\.0 MB\/s ETA 2s/);
    progress.done();
    progress.done();
    assert.ok(stream.text.endsWith('\n'));
    assert.equal(stream.text.split('\n').length, 2);
  });

  it('prints plain lines at most every interval off a terminal, and the last one at the end', () => {
    let now = 0;
    const stream = fakeStream(false);
    const progress = createProgress({ label: 'backfilling', quiet: false, stream, now: () => now, lineIntervalMs: 1000 });
    now = 1000;
    progress.update({ tasksDone: 1, tasksTotal: 3, bytesDone: 1e6 });
    now = 1500;
    progress.update({ tasksDone: 2, tasksTotal: 3, bytesDone: 2e6 });
    now = 3000;
    progress.update({ tasksDone: 3, tasksTotal: 3, bytesDone: 3e6 });
    progress.done();
    assert.deepEqual(stream.text.trim().split('\n').map((l) => l.split(',')[0]), ['backfilling 1/3 tasks', 'backfilling 3/3 tasks'], 'the last line, already printed, is not printed again');
    assert.ok(!stream.text.includes('\r'));
  });

  it('off a terminal, prints the first update at once and at the end the last one the interval held back', () => {
    let now = 0;
    const stream = fakeStream(false);
    const progress = createProgress({ label: 'migrating', quiet: false, stream, now: () => now, lineIntervalMs: 1000 });
    progress.update({ tasksDone: 1, tasksTotal: 2, bytesDone: 1e6 });
    now = 500;
    progress.update({ tasksDone: 2, tasksTotal: 2, bytesDone: 2e6 });
    progress.done();
    assert.deepEqual(stream.text.trim().split('\n').map((l) => l.split(',')[0]), ['migrating 1/2 tasks', 'migrating 2/2 tasks']);
  });

  it('prints nothing when quiet (--json)', () => {
    const stream = fakeStream(true);
    const progress = createProgress({ label: 'x', quiet: true, stream });
    progress.update({ tasksDone: 1, tasksTotal: 1, bytesDone: 1 });
    progress.done();
    assert.equal(stream.text, '');
  });
});
