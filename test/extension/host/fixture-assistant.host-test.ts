/**
 * The fixture assistant, driven through its Roo Code API surface inside a real extension host.
 * The Node side (test/extension/fixture-assistant.test.ts) then checks the files on disk.
 */
import * as assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fixtureAssistant } from './fixture-api';

describe('fixture assistant (test fixture for Roo Code)', () => {
  it('runs a task through startNewTask, sendMessage and the buttons, rewriting the whole file each time', async () => {
    const api = await fixtureAssistant();
    const first = await api.startNewTask({ text: 'first fixture task' });
    const uiPath = join(api.fixture.basePath, 'tasks', first, 'ui_messages.json');
    const inodeBefore = (await stat(uiPath)).ino;
    await api.sendMessage('a follow-up');
    // temp file + rename: the file is a new inode after each write.
    assert.notEqual((await stat(uiPath)).ino, inodeBefore);
    await api.pressPrimaryButton();
    assert.deepEqual(api.getCurrentTaskStack(), [first]);

    const second = await api.startNewTask({ text: 'second fixture task' });
    await api.pressSecondaryButton();
    await api.cancelCurrentTask();
    assert.deepEqual(api.getCurrentTaskStack(), []);
    await api.resumeTask(first);
    await api.sendMessage('back to the first');

    const history = await api.fixture.history();
    assert.deepEqual(history.map((h) => h.id), [first, second]);
    assert.equal(history[0]!.task, 'first fixture task');
    const messages = await api.fixture.readMessages(first);
    assert.deepEqual(messages.filter((m) => m.say === 'user_feedback').map((m) => m.text), ['a follow-up', 'back to the first']);
    assert.deepEqual(api.fixture.calls.map((c) => c.method), [
      'startNewTask', 'sendMessage', 'pressPrimaryButton', 'startNewTask', 'pressSecondaryButton', 'cancelCurrentTask', 'resumeTask', 'sendMessage',
    ]);
  });
});
