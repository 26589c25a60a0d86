/**
 * The docs describe what the code has: no link out of the repository (the design decisions are
 * in docs/design.md), the architecture marks what is not built yet, and the Docker guide's
 * `docker run` keeps the relay's data in a named volume.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildProgram } from '../../cli/main';

const ROOT = join(__dirname, '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');
const DOCS = ['README.md', 'docker/README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, 'docs', 'deployment')).map((f) => `docs/deployment/${f}`)];

describe('docs match the code', () => {
  it('name no file outside the repository, and every docs/*.md they name exists (regression: README linked ../shared/DESIGN.md)', () => {
    for (const doc of DOCS) {
      const text = read(doc);
      assert.doesNotMatch(text, /`\.\.\/[^`]*`/, `${doc} names a path outside the repository`);
      for (const [, path] of text.matchAll(/`(docs\/[\w/-]+\.md)`/g)) assert.ok(existsSync(join(ROOT, path!)), `${doc} names ${path}, which does not exist`);
    }
    assert.match(read('README.md'), /`docs\/design\.md`/);
  });

  it('architecture.md names every CLI command there is, and marks the ones there are not as planned (regression: it described migrate/backfill and sign-in as built)', () => {
    const text = read('docs/architecture.md');
    const commands = buildProgram().commands.map((command) => command.name());
    for (const command of commands) assert.match(text, new RegExp(`\\b${command}\\b`), command);
    for (const missing of ['backfill', 'login']) assert.ok(!commands.includes(missing), `${missing} exists now: update the docs`);
    for (const line of text.split('\n').filter((l) => /backfill/i.test(l))) assert.match(line, /planned/i, line);
    for (const line of text.split('\n').filter((l) => /sign-in/i.test(l))) assert.match(line, /in progress|planned/i, line);
    assert.ok(!existsSync(join(ROOT, 'web')) || !/`web\/` \| planned/.test(text), 'web/ exists now: update the docs');
  });

  it("docker-setup.md's docker run mounts a named volume at /data (regression: the data went with the container)", () => {
    const runs = read('docs/deployment/docker-setup.md').split('\n').filter((line) => /^docker run /.test(line));
    assert.ok(runs.length > 0);
    for (const run of runs) assert.match(run, / -v [a-z][\w.-]*:\/data /, run);
  });
});
