import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTaskStore } from '../../../core/node/stores/fs-task-store';
import { TASK_STORE_LAYOUTS } from '../../../core/stores/layouts';
import { MemoryTaskStore } from '../../support/memory-task-store';
import { runTaskStoreConformance } from '../../support/task-store-conformance';

for (const layout of TASK_STORE_LAYOUTS) {
  runTaskStoreConformance(`FsTaskStore (${layout.displayName} layout)`, async () => {
    const dir = await mkdtemp(join(tmpdir(), `roo-sync-store-${layout.source}-`));
    return {
      store: new FsTaskStore({ source: layout.source, basePath: dir, lock: { waitMs: 2_000 } }),
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  });
}

runTaskStoreConformance('MemoryTaskStore (roo-code)', async () => ({ store: new MemoryTaskStore({ source: 'roo-code' }) }));
runTaskStoreConformance('MemoryTaskStore (cline)', async () => ({ store: new MemoryTaskStore({ source: 'cline' }) }));
