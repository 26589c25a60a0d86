import assert from 'node:assert/strict';
import { ExclusiveLock } from '../../core/exclusive-lock';

describe('ExclusiveLock', () => {
  it('runs sections one at a time across awaits, in the order they asked', async () => {
    const lock = new ExclusiveLock();
    const trace: string[] = [];
    let inside = 0;
    const section = (name: string, ticks: number) =>
      lock.run(async () => {
        inside++;
        assert.equal(inside, 1, `${name} overlapped another section`);
        trace.push(`${name}>`);
        for (let k = 0; k < ticks; k++) await Promise.resolve();
        trace.push(`<${name}`);
        inside--;
        return name;
      });
    const results = await Promise.all([section('a', 5), section('b', 0), section('c', 2)]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.deepEqual(trace, ['a>', '<a', 'b>', '<b', 'c>', '<c']);
  });

  it('rejects only the failing section; the next one still runs', async () => {
    const lock = new ExclusiveLock();
    const failing = lock.run(async () => {
      throw new Error('section failed');
    });
    const next = lock.run(async () => 'ran');
    await assert.rejects(failing, /section failed/);
    assert.equal(await next, 'ran');
  });
});
