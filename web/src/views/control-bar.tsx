/**
 * Remote control of one task: send a message to it, approve or deny what it asks, cancel it;
 * to the device it runs on (or another of the user's devices). Each command's state follows
 * from the command queue (queued until the device is online, then delivered, done or failed).
 */
import type { Device, TaskSummary } from '../api/relay-api';
import type { LiveLink } from '../live/live-link';
import type { RemoteCommand } from '../../../core/protocol/messages';
import type { TaskId } from '../../../core/ids';
import { canRunTasks } from '../../../core/device/device-kinds';
import { useState } from 'preact/hooks';
import { CommandLog } from './command-log';

/**
 * The other devices that can run an assistant (core's `canRunTasks`, shared with the VS Code
 * extension): not browsers, not the CLI (`roo-sync sync` syncs a store but cannot drive the
 * assistant, so it never takes a command), not revoked.
 */
export function controllable(devices: Device[]): Device[] {
  return devices.filter((d) => canRunTasks(d) && !d.current);
}

/** What to do when no device can take a command. */
export const NO_CONTROLLABLE_DEVICE = 'Remote control needs VS Code with the roo-sync extension on the computer that runs the assistant; the roo-sync CLI syncs tasks but cannot run them.';

export function ControlBar({ live, devices, task, waiting, draft, onDraft }: {
  live: LiveLink;
  devices: Device[];
  task: TaskSummary;
  waiting?: string;
  draft: string;
  onDraft(text: string): void;
}) {
  const targets = controllable(devices);
  const [target, setTarget] = useState(targets.some((d) => d.id === task.deviceId) ? task.deviceId : targets[0]?.id ?? task.deviceId);
  const send = (kind: RemoteCommand['kind'], withText = false) => {
    const command: RemoteCommand = { kind, taskId: task.taskId as TaskId };
    if (withText && draft.trim()) command.text = draft.trim();
    void live.send(target, command);
    if (withText) onDraft('');
  };
  const mine = live.sent.filter((c) => c.command.taskId === task.taskId);
  if (targets.length === 0) {
    return (
      <section class="control" aria-label="Remote control">
        <h2 class="sr-only">Remote control</h2>
        <p class="muted no-control">{NO_CONTROLLABLE_DEVICE}</p>
        <CommandLog commands={mine} devices={devices} />
      </section>
    );
  }
  return (
    <section class="control" aria-label="Remote control">
      <h2 class="sr-only">Remote control</h2>
      <form onSubmit={(e) => { e.preventDefault(); if (draft.trim()) send('task.message', true); }}>
        <div class="row">
          <label for="control-target">Device</label>
          <select id="control-target" value={target} onChange={(e) => setTarget(e.currentTarget.value)}>
            {targets.map((d) => (
              <option value={d.id}>{d.name}{live.presenceOf(d.id) ? ` (${live.presenceOf(d.id)!.state})` : ' (offline)'}</option>
            ))}
          </select>
        </div>
        <label for="control-text" class="sr-only">Message to the task</label>
        <textarea id="control-text" rows={1} placeholder="Message to the assistant" value={draft} onInput={(e) => onDraft(e.currentTarget.value)} />
        <div class="buttons">
          <button type="submit" class="primary" disabled={!draft.trim()}>Send</button>
          <button type="button" class={waiting ? 'approve strong' : 'approve'} onClick={() => send('task.approve', true)}>Approve</button>
          <button type="button" class="deny" onClick={() => send('task.deny', true)}>Deny</button>
          <button type="button" class="secondary" onClick={() => send('task.cancel')}>Cancel task</button>
        </div>
      </form>
      <CommandLog commands={mine} devices={devices} />
    </section>
  );
}
