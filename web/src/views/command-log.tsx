/** Commands this page sent, with their state from the command queue. */
import type { Device } from '../api/relay-api';
import type { SentCommand } from '../live/live-link';

const LABELS: Readonly<Record<string, string>> = {
  'task.start': 'Start task',
  'task.message': 'Message',
  'task.approve': 'Approve',
  'task.deny': 'Deny',
  'task.cancel': 'Cancel',
  'task.resume': 'Resume',
};

export function CommandLog({ commands, devices }: { commands: readonly SentCommand[]; devices: Device[] }) {
  if (commands.length === 0) return null;
  const names = new Map(devices.map((d) => [d.id, d.name]));
  return (
    <section class="commands" aria-label="Sent commands">
      <h2>Sent commands</h2>
      <ul>
        {commands.map((c) => (
          <li class="command-row" key={c.key} data-kind={c.command.kind} data-state={c.state}>
            <span class="what">{LABELS[c.command.kind] ?? c.command.kind}{c.command.text ? `: ${c.command.text}` : ''}</span>
            <span class="to">to {names.get(c.targetDeviceId) ?? 'a device'}</span>
            <span class={`state state-${c.state}`}>{c.state === 'sending' ? 'sending…' : c.state}</span>
            {c.error && <span class="error">{c.error.code}: {c.error.message}</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}
