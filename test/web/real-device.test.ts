/**
 * The page with core's device runtime (SyncDevice) as the device: a task the assistant writes
 * into a Roo Code store on disk shows in the list; a message the assistant appends shows in the
 * open task view within a second, without a reload; a command from the page reaches the
 * device's RooCloudClient, which answers.
 */
import assert from 'node:assert/strict';
import { assistantWrite, smallTask, useDeviceFixture } from '../support/device-fixture';
import { signInOn, useWebFixture } from './web-fixture';

describe('web page with a real SyncDevice', function () {
  this.timeout(60_000);
  const web = useWebFixture();
  const devices = useDeviceFixture(() => web.relay());

  it('lists the task the assistant wrote on disk, paints an appended message live, and carries a command to the device', async () => {
    const email = await web.user('real');
    const dir = await devices.folder();
    await devices.signIn(dir, email, 'dev box');
    const device = await devices.open(dir);
    const task = smallTask('0193e4b2-7c1d-7000-8000-000000000001', ['Upgrade the dependencies', 'Looking at package.json'], Date.now() - 5_000);
    await assistantWrite(dir.storePath, task);

    const context = await web.context();
    const page = await context.newPage();
    await page.goto(`${web.relay().url}/`);
    await signInOn(page, email);
    await page.locator(`.task-row[data-task-id="${task.taskId}"]`).waitFor({ timeout: 15_000 });
    assert.match((await page.locator(`.task-row[data-task-id="${task.taskId}"]`).textContent()) ?? '', /Upgrade the dependencies.*dev box/);

    await page.locator(`.task-row[data-task-id="${task.taskId}"] a`).click();
    await page.locator('.message', { hasText: 'Looking at package.json' }).waitFor({ timeout: 15_000 });
    const next = { ts: Date.now(), type: 'say', say: 'text', text: 'Bumped 12 packages; tests pass.' };
    const started = Date.now();
    await assistantWrite(dir.storePath, { ...task, ui: [...task.ui, next] });
    await page.locator('.message', { hasText: 'Bumped 12 packages' }).waitFor({ timeout: 5_000 });
    const ms = Date.now() - started;
    assert.ok(ms < 1000, `assistant write to painted took ${ms} ms`);

    const client = device.client;
    assert.ok(client, 'the device is online with a client');
    const received: string[] = [];
    client.onCommand((delivery) => {
      received.push(`${delivery.command.kind} ${delivery.command.text ?? ''}`);
      void client.sendCommandResponse(delivery.commandId, 'done', { ok: true });
    });
    await page.getByLabel('Message to the task').fill('also update the lockfile');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.command-row[data-kind="task.message"][data-state="done"]').waitFor({ timeout: 10_000 });
    assert.deepEqual(received, ['task.message also update the lockfile']);
  });
});
