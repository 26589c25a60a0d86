import * as assert from 'node:assert/strict';
import { selectStores, type StoreCandidate } from '../../../core/stores/store-selection';

describe('selectStores', () => {
  const roo: StoreCandidate = { source: 'roo-code', basePath: '/u/globalStorage/rooveterinaryinc.roo-cline', foundBy: 'discovery' };
  const rooAgain: StoreCandidate = { source: 'roo-code', basePath: '/u/globalStorage/rooveterinaryinc.roo-cline/', foundBy: 'global-storage' };
  const cline: StoreCandidate = { source: 'cline', basePath: '/u/globalStorage/saoudrizwan.claude-dev', foundBy: 'global-storage' };
  const custom: StoreCandidate = { source: 'roo-code', basePath: '/data/roo', foundBy: 'custom-storage-setting' };

  it('keeps one candidate per source and folder, the first finder winning', () => {
    assert.deepEqual(selectStores([roo, rooAgain, cline, custom], []), [roo, cline, custom]);
  });

  it('keeps only the listed sources when some are listed', () => {
    assert.deepEqual(selectStores([roo, cline, custom], ['cline']), [cline]);
  });
});
