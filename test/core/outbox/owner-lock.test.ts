/**
 * OwnerLock.releaseAtExit: a process that ends with process.exit (a second Ctrl-C in the CLI)
 * skips its finally blocks; the lock must not stay behind naming it. Run in a child process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OWNER_LOCK = join(__dirname, '..', '..', '..', 'core', 'node', 'outbox', 'owner-lock.ts');

/** Runs `body` (an async function body with `OwnerLock` and `path` in scope) in a child tsx process; resolves with its exit code. */
async function inChild(path: string, body: string): Promise<number | null> {
  const script = `const { OwnerLock } = require(${JSON.stringify(OWNER_LOCK)}); const path = ${JSON.stringify(path)}; (async () => { ${body} })();`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  const [code] = (await once(child, 'exit')) as [number | null];
  return code;
}

describe('OwnerLock (core/node/outbox/owner-lock)', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'roo-owner-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('releaseAtExit: a lock held when the process calls process.exit is removed', async () => {
    const path = join(dir, 'store.lock');
    const code = await inChild(path, `await OwnerLock.acquire(path, { name: 'test' }).then((l) => l.releaseAtExit()); require('node:fs').writeFileSync(path + '.seen', require('node:fs').readFileSync(path)); process.exit(130);`);
    assert.equal(code, 130);
    assert.match(readFileSync(`${path}.seen`, 'utf8'), /"name":"test"/, 'the child held the lock');
    assert.equal(existsSync(path), false, 'and it went with the process');
  });

  it('releaseAtExit leaves a lock that is no longer its own (taken over since) where it is', async () => {
    const path = join(dir, 'store.lock');
    const other = JSON.stringify({ pid: 1, host: 'elsewhere', token: 'theirs' });
    const code = await inChild(path, `await OwnerLock.acquire(path).then((l) => l.releaseAtExit()); require('node:fs').writeFileSync(path, ${JSON.stringify(other)}); process.exit(0);`);
    assert.equal(code, 0);
    assert.equal(readFileSync(path, 'utf8'), other);
  });

  it('release removes the exit hook with the lock', async () => {
    const path = join(dir, 'store.lock');
    const code = await inChild(path, `const l = (await OwnerLock.acquire(path)).releaseAtExit(); await l.release(); process.exit(process.listenerCount('exit'));`);
    assert.equal(code, 0, 'no exit listener left');
  });
});
