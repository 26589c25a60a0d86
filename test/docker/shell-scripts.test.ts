import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SCRIPTS = join(ROOT, 'docker', 'scripts');

describe('docker/scripts', () => {
  const scripts = readdirSync(SCRIPTS).filter((f) => f.endsWith('.sh'));

  it('has the development and production scripts', () => {
    for (const name of ['start-dev.sh', 'stop-dev.sh', 'reset-db.sh', 'deploy.sh', 'backup.sh', 'restore.sh']) {
      assert.ok(scripts.includes(name), `${name} is missing`);
    }
  });

  for (const name of scripts) {
    it(`${name} passes shellcheck`, () => {
      // shellcheck is a Debian package installed by .ci/run; a missing binary fails here.
      const out = execFileSync('shellcheck', ['-x', '--severity=style', join(SCRIPTS, name)], { encoding: 'utf8' });
      assert.equal(out, '');
    });
  }

  for (const name of scripts.filter((f) => f !== 'lib.sh')) {
    it(`${name} is executable`, () => {
      assert.ok(statSync(join(SCRIPTS, name)).mode & 0o100, `${name} has no execute bit`);
    });
  }
});
