import * as assert from 'node:assert/strict';
import { describeStatus, type DeviceStatus } from '../../../core/device/device-status';

const synced: DeviceStatus = { state: 'synced', queued: 0, conflicts: 0, cursor: 3, lastSyncAt: 1, stores: [], unrestorable: [], waiting: [], lastError: null, account: null };

describe('device-status', () => {
  describe('describeStatus', () => {
    it('says no assistant tasks were found here when no store syncs and nothing limits the sources', () => {
      assert.equal(describeStatus(synced), 'synced, no task store (no Roo Code, Zoo Code, Kilo Code or Cline tasks found here)');
      assert.equal(describeStatus(synced, { sourceFilter: { sources: [], by: 'rooSync.sources' } }), 'synced, no task store (no Roo Code, Zoo Code, Kilo Code or Cline tasks found here)');
    });

    it('names the source filter when it leaves no store to sync (rooSync.sources = cline beside a Roo Code store)', () => {
      assert.equal(describeStatus(synced, { sourceFilter: { sources: ['cline'], by: 'rooSync.sources' } }), 'synced, no Cline task store here (rooSync.sources limits sync to cline)');
    });

    it('names every assistant the filter allows', () => {
      assert.equal(
        describeStatus(synced, { sourceFilter: { sources: ['roo-code', 'kilo-code', 'cline'], by: '--source' } }),
        'synced, no Roo Code, Kilo Code or Cline task store here (--source limits sync to roo-code, kilo-code, cline)',
      );
    });

    it('says only synced when a store syncs, filter or not', () => {
      const withStore: DeviceStatus = { ...synced, stores: [{ source: 'cline', basePath: '/s', role: 'syncing' }] };
      assert.equal(describeStatus(withStore, { sourceFilter: { sources: ['cline'], by: 'rooSync.sources' } }), 'synced');
    });
  });
});
