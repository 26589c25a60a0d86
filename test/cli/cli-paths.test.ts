/** cliPaths: where the CLI keeps its credentials and data on each platform. */
import assert from 'node:assert/strict';
import { cliPaths } from '../../cli/cli-paths';

describe('cliPaths', () => {
  it('follows XDG on Linux, with ROO_SYNC_CONFIG_DIR and ROO_SYNC_DATA_DIR overriding', () => {
    assert.deepEqual(cliPaths({}, 'linux', '/home/u'), { configDir: '/home/u/.config/roo-sync', credentials: '/home/u/.config/roo-sync/credentials.json', dataDir: '/home/u/.local/state/roo-sync', backfillJournals: '/home/u/.local/state/roo-sync/backfill' });
    assert.equal(cliPaths({ XDG_CONFIG_HOME: '/x', XDG_STATE_HOME: '/s' }, 'linux', '/home/u').dataDir, '/s/roo-sync');
    assert.equal(cliPaths({ XDG_CONFIG_HOME: 'relative' }, 'linux', '/home/u').configDir, '/home/u/.config/roo-sync');
    const overridden = cliPaths({ ROO_SYNC_CONFIG_DIR: '/c' }, 'linux', '/home/u');
    assert.deepEqual([overridden.credentials, overridden.dataDir], ['/c/credentials.json', '/c/data']);
    assert.equal(cliPaths({ ROO_SYNC_CONFIG_DIR: '/c', ROO_SYNC_DATA_DIR: '/d' }, 'linux', '/home/u').dataDir, '/d');
  });

  it('uses Application Support on macOS', () => {
    assert.equal(cliPaths({}, 'darwin', '/Users/u').credentials, '/Users/u/Library/Application Support/roo-sync/credentials.json');
  });
});
