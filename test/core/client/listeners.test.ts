import assert from 'node:assert/strict';
import { Listeners } from '../../../core/client/listeners';

describe('Listeners', () => {
  describe('#emit', () => {
    it('calls every listener even when one throws', () => {
      const listeners = new Listeners<[number]>();
      const seen: number[] = [];
      listeners.add(() => {
        throw new Error('faulty');
      });
      listeners.add((n) => seen.push(n));
      listeners.emit(7);
      assert.deepEqual(seen, [7]);
    });
  });

  describe('#add', () => {
    it('returns a remover that removes only that registration', () => {
      const listeners = new Listeners<[]>();
      let calls = 0;
      const listener = () => calls++;
      const removeFirst = listeners.add(listener);
      listeners.add(listener);
      removeFirst();
      removeFirst();
      listeners.emit();
      assert.equal(calls, 1);
      assert.equal(listeners.size, 1);
    });
  });
});
