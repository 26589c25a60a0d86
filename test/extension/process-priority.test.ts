import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A Node process that lowers itself, then starts a worker thread and uses the threadpool, and prints every thread's nice value. */
const CHILD = `
const { readdirSync, readFileSync } = require('node:fs');
const { Worker } = require('node:worker_threads');
const { lowerOwnPriority } = require(${JSON.stringify(join(__dirname, '..', '..', 'extension', 'device-worker', 'process-priority.ts'))});
const changed = lowerOwnPriority();
const niceOf = (tid) => Number(readFileSync('/proc/self/task/' + tid + '/stat', 'utf8').split(') ')[1].split(' ')[16]);
const w = new Worker('setTimeout(() => {}, 200)', { eval: true });
require('node:fs').readFile(__filename, () => {
  w.on('online', () => {
    const nice = readdirSync('/proc/self/task').map(niceOf);
    console.log(JSON.stringify({ changed, nice }));
    w.terminate();
  });
});
`;

describe('lowerOwnPriority', function () {
  if (process.platform !== 'linux') return;
  this.timeout(30_000);

  it('puts every thread of the process at nice 10, those V8 started before it and those started after', async () => {
    const { stdout } = await run(process.execPath, ['--require', 'tsx/cjs', '-e', CHILD]);
    const { changed, nice } = JSON.parse(stdout) as { changed: number; nice: number[] };
    assert.ok(changed > 1, `changed ${changed} thread(s): V8's platform threads exist before any user code`);
    assert.ok(nice.length > changed, `a worker thread and the threadpool started after it (${nice.length} threads now, ${changed} before)`);
    assert.deepEqual([...new Set(nice)], [10]);
  });
});
