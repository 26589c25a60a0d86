/**
 * Remote control from the page (real Chromium, real relay, headless devices over the real
 * device protocol): start a task, send a message, approve, deny, cancel reach the device,
 * which answers, and the page shows each command's state; a command to an offline device shows
 * "queued" and is delivered when the device connects.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { CommandDeliverMessage } from '../../core/protocol/messages';
import type { HeadlessDevice } from '../support/headless-device';
import { asTaskId } from '../../core/ids';
import { axeViolations, DESKTOP, screenshot, useWebFixture } from './web-fixture';

/** Collects what `device` receives, answering with `answer` (throwing makes it fail). */
function record(device: HeadlessDevice, answer: (d: CommandDeliverMessage) => unknown = () => ({ ok: true })) {
  const received: CommandDeliverMessage[] = [];
  device.answerCommands((d) => {
    received.push(d);
    return answer(d);
  });
  return received;
}

function commandRow(page: Page, kind: string) {
  return page.locator(`.command-row[data-kind="${kind}"]`).first();
}

describe('web page: remote control', function () {
  this.timeout(60_000);
  const web = useWebFixture();

  it('sends a message, approve, deny and cancel to the task\'s device, which answers; the page shows done or the coded failure', async () => {
    const email = await web.user('remote');
    const device = await web.device(email, 'workstation');
    const received = record(device, (d) => {
      if (d.command.kind === 'task.deny') throw Object.assign(new Error('nothing is waiting for an answer'), { code: 'TASK_NOT_WAITING' });
      return { accepted: d.command.kind };
    });
    await device.pushTask({ taskId: 'run1', meta: { id: 'run1', ts: Date.now(), task: 'Migrate the database' }, messages: [{ ts: 1, type: 'say', say: 'text', text: 'Migrate the database' }, { ts: 2, type: 'ask', ask: 'command', text: 'npm run migrate' }] });
    const page = await web.signedIn(email);
    await page.locator('.task-row[data-task-id="run1"] a').click();
    await page.locator('.waiting').waitFor();
    await page.getByRole('combobox', { name: 'Device' }).locator('option', { hasText: 'workstation (online)' }).waitFor({ state: 'attached' });

    await page.getByLabel('Message to the task').fill('use the staging database');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.command-row[data-kind="task.message"][data-state="done"]').waitFor();
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.locator('.command-row[data-kind="task.approve"][data-state="done"]').waitFor();
    await page.getByRole('button', { name: 'Deny' }).click();
    await page.locator('.command-row[data-kind="task.deny"][data-state="failed"]').waitFor();
    assert.match((await commandRow(page, 'task.deny').textContent()) ?? '', /TASK_NOT_WAITING: nothing is waiting for an answer/);
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await page.locator('.command-row[data-kind="task.cancel"][data-state="done"]').waitFor();

    assert.deepEqual(received.map((d) => [d.command.kind, d.command.taskId, d.command.text]), [
      ['task.message', 'run1', 'use the staging database'],
      ['task.approve', 'run1', undefined],
      ['task.deny', 'run1', undefined],
      ['task.cancel', 'run1', undefined],
    ]);
  });

  it('offers no remote control to a user whose only device is the CLI, which cannot run a task, and says what is needed', async () => {
    const email = await web.user('cli-only');
    const cli = await web.device(email, 'build box (roo-sync CLI)', { kind: 'cli' });
    const received = record(cli);
    await cli.pushTask({ taskId: 'cli1', meta: { id: 'cli1', ts: Date.now(), task: 'Synced from a server' }, messages: [{ ts: 1, type: 'say', say: 'text', text: 'Synced from a server' }] });
    const page = await web.signedIn(email);
    await page.locator('.task-row[data-task-id="cli1"] a').click();
    await page.locator('.control .no-control').waitFor();
    assert.match((await page.locator('.control .no-control').textContent()) ?? '', /VS Code with the roo-sync extension/);
    assert.equal(await page.getByRole('button', { name: 'Send' }).count(), 0);
    await page.getByRole('link', { name: 'Devices' }).click();
    await page.locator('.device', { hasText: 'build box' }).waitFor();
    await page.locator('.start .no-control').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Start task' }).count(), 0);
    assert.deepEqual(received, []);
  });

  it('starts a task on a chosen device; a command to an offline device shows queued and is delivered when it connects', async () => {
    const email = await web.user('start');
    const online = await web.device(email, 'online laptop');
    const onlineReceived = record(online, (d) => ({ taskId: 'started-1', text: d.command.text }));
    const offline = await web.device(email, 'sleeping desktop', { online: false });
    const offlineReceived = record(offline);
    const page = await web.signedIn(email);
    await page.getByRole('link', { name: 'Devices' }).click();
    await page.locator('.device', { hasText: 'sleeping desktop' }).waitFor();
    assert.equal(await page.locator('.device', { hasText: 'sleeping desktop' }).getAttribute('data-state'), 'offline');
    await page.locator('.device[data-state="online"]', { hasText: 'online laptop' }).waitFor();

    await page.getByLabel('Device', { exact: true }).selectOption({ label: 'online laptop' });
    await page.getByLabel('What should the assistant do?').fill('Write a changelog entry');
    await page.getByRole('button', { name: 'Start task' }).click();
    await page.locator('.command-row[data-kind="task.start"][data-state="done"]').waitFor();
    assert.deepEqual(onlineReceived.map((d) => [d.command.kind, d.command.text]), [['task.start', 'Write a changelog entry']]);

    await page.getByLabel('Device', { exact: true }).selectOption({ label: 'sleeping desktop (offline: queued until it connects)' });
    await page.getByLabel('What should the assistant do?').fill('Run the nightly report');
    await page.getByRole('button', { name: 'Start task' }).click();
    const queued = page.locator('.command-row[data-kind="task.start"]', { hasText: 'Run the nightly report' });
    await page.locator('.command-row[data-state="queued"]', { hasText: 'Run the nightly report' }).waitFor();
    assert.equal(offlineReceived.length, 0);

    await offline.connect();
    await page.locator('.command-row[data-state="done"]', { hasText: 'Run the nightly report' }).waitFor({ timeout: 10_000 });
    assert.equal(await queued.getAttribute('data-state'), 'done');
    assert.deepEqual(offlineReceived.map((d) => [d.command.kind, d.command.text]), [['task.start', 'Run the nightly report']]);
    await page.locator('.device[data-state="online"]', { hasText: 'sleeping desktop' }).waitFor();
  });

  it('shows a device running a task and opens that task from the device list', async () => {
    const email = await web.user('presence');
    const device = await web.device(email, 'busy laptop');
    await web.device(email, 'idle desktop', { online: false });
    await device.pushTask({ source: 'cline', taskId: 'busy-1', meta: { id: 'busy-1', ts: Date.now(), task: 'Port the CLI to Rust' }, messages: [{ ts: 1, type: 'say', say: 'text', text: 'Port the CLI to Rust' }] });
    const page = await web.signedIn(email);
    await page.getByRole('link', { name: 'Devices' }).click();
    await page.locator('.device[data-state="online"]', { hasText: 'busy laptop' }).waitFor();
    device.client.updatePresence('busy', asTaskId('busy-1'));
    const row = page.locator('.device[data-state="running a task"]', { hasText: 'busy laptop' });
    await row.waitFor();
    assert.deepEqual(await axeViolations(page), [], 'devices view');
    await screenshot(page, 'devices');
    await page.setViewportSize(DESKTOP);
    await screenshot(page, 'devices');
    await row.getByRole('link', { name: 'open its task' }).click();
    await page.getByRole('heading', { level: 1, name: 'Port the CLI to Rust' }).waitFor();
    assert.match(page.url(), /#\/task\/cline\/busy-1$/);
  });

  it('signs another device out from the Devices view: the relay revokes it and the list shows it revoked', async () => {
    const email = await web.user('revoke');
    const lost = await web.device(email, 'lost laptop');
    const page = await web.signedIn(email);
    await page.getByRole('link', { name: 'Devices' }).click();
    await page.locator('.device[data-state="online"]', { hasText: 'lost laptop' }).waitFor();
    assert.equal(await page.locator('.device', { hasText: 'this browser' }).getByRole('button', { name: /Sign out/ }).count(), 0, 'not offered for this browser');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Sign out lost laptop' }).click();
    await page.locator('.device[data-state="revoked"]', { hasText: 'lost laptop' }).waitFor();
    const { rows } = await web.relay().db.query<{ revoked_at: Date | null }>('SELECT revoked_at FROM devices WHERE id = $1', [lost.deviceId]);
    assert.notEqual(rows[0]?.revoked_at ?? null, null, 'revoked on the relay');
    assert.equal(await page.getByRole('button', { name: 'Sign out lost laptop' }).count(), 0);
  });
});
