import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkDockerfile } from './dockerfile-rules';

const ROOT = join(__dirname, '..', '..');

describe('docker/production/Dockerfile', () => {
  it('passes every static rule', () => {
    const findings = checkDockerfile(readFileSync(join(ROOT, 'docker/production/Dockerfile'), 'utf8'));
    assert.deepEqual(findings, []);
  });
});

describe('checkDockerfile', () => {
  const rulesOf = (text: string) => checkDockerfile(text).map((f) => f.rule).sort();

  it('flags an unpinned base, root user, no healthcheck, secrets, remote ADD and npm install', () => {
    const bad = [
      'FROM node:latest',
      'ENV DB_PASSWORD=hunter2',
      'ADD https://example.org/x.tgz /x.tgz',
      'RUN npm install',
      'CMD ["node"]',
    ].join('\n');
    assert.deepEqual(rulesOf(bad), ['DF_HEALTHCHECK', 'DF_NON_ROOT', 'DF_NO_REMOTE_ADD', 'DF_NO_SECRETS', 'DF_NPM_CI', 'DF_PINNED_BASE']);
  });

  it('accepts a multi-stage file whose final stage is pinned, non-root and healthchecked', () => {
    const good = [
      'FROM node:20.18-slim AS build',
      'RUN npm ci',
      'FROM node:20.18-slim',
      'COPY --from=build /src/dist ./dist',
      'USER node',
      'HEALTHCHECK CMD node -e "1"',
    ].join('\n');
    assert.deepEqual(rulesOf(good), []);
  });

  it('flags an image with no tag and a final stage that switches back to root', () => {
    assert.deepEqual(rulesOf('FROM debian\nUSER node\nUSER root\nHEALTHCHECK CMD true'), ['DF_NON_ROOT', 'DF_PINNED_BASE']);
  });
});
