/**
 * The production image's steps, run outside Docker (no engine on these machines): build the
 * bundle, install production dependencies only next to it, and run the CLI from there.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRelayProcess } from '../support/relay-process';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');

describe('production image steps (docker/production/Dockerfile) outside Docker', function () {
  this.timeout(300_000);
  let app: string;

  before(async () => {
    await run(process.execPath, ['esbuild.config.mjs'], { cwd: ROOT });
    app = mkdtempSync(join(tmpdir(), 'roo-image-'));
    for (const entry of ['package.json', 'package-lock.json', 'dist']) cpSync(join(ROOT, entry), join(app, entry), { recursive: true });
  });

  after(() => {
    if (app) rmSync(app, { recursive: true, force: true });
  });

  it('installs production dependencies only with npm ci --omit=dev (from the npm cache: npm test reaches no registry)', async () => {
    // --offline: only the local npm cache, which .ci/run's `npm ci` filled; a miss fails here.
    await run('npm', ['ci', '--omit=dev', '--offline', '--no-audit', '--no-fund'], { cwd: app });
    // A dev-only package must be absent, a runtime one present.
    await assert.rejects(run(process.execPath, ['-e', 'require.resolve("mocha")'], { cwd: app }));
    await run(process.execPath, ['-e', 'require.resolve("@electric-sql/pglite")'], { cwd: app });
  });

  it('runs `node dist/cli.js server --help` from the built output', async () => {
    const { stdout } = await run(process.execPath, ['dist/cli.js', 'server', '--help'], { cwd: app });
    assert.match(stdout, /Usage: roo-sync server/);
    assert.match(stdout, /--port/);
  });

  it('serves /healthz from the built output on the embedded default, and stops cleanly on SIGTERM', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'roo-image-data-'));
    const relay = await startRelayProcess({ dataDir, bundle: join(app, 'dist', 'cli.js') });
    try {
      const response = await fetch(`${relay.url}/healthz`);
      assert.equal(response.status, 200);
      assert.deepEqual(await relay.stop(), { code: 0, signal: null });
    } finally {
      await relay.kill();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('runs as `roo-sync` through a symlink on the PATH, as the image links it (docker compose exec relay roo-sync ...)', async () => {
    const dockerfile = readFileSync(join(ROOT, 'docker', 'production', 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /chmod 755 dist\/cli\.js && ln -s \/app\/dist\/cli\.js \/usr\/local\/bin\/roo-sync/);
    chmodSync(join(app, 'dist', 'cli.js'), 0o755);
    mkdirSync(join(app, 'bin'), { recursive: true });
    symlinkSync(join(app, 'dist', 'cli.js'), join(app, 'bin', 'roo-sync'));
    const { stdout } = await run(join(app, 'bin', 'roo-sync'), ['user', '--help'], { cwd: app, env: { ...process.env, PATH: `${join(app, 'bin')}:${process.env.PATH}` } });
    assert.match(stdout, /Usage: roo-sync user/);
  });

  it('runs `node dist/cli.js db --help` from the built output', async () => {
    const { stdout } = await run(process.execPath, ['dist/cli.js', 'db', '--help'], { cwd: app });
    assert.match(stdout, /migrate/);
  });
});
