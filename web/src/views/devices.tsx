/** The user's devices with their presence, and starting a new task on one of them. */
import { useEffect, useState } from 'preact/hooks';
import type { Device } from '../api/relay-api';
import type { LiveLink } from '../live/live-link';
import { CommandLog } from './command-log';
import { NO_CONTROLLABLE_DEVICE, controllable } from './control-bar';
import { when } from './format';
import { errorText } from './hooks';

export function DevicesView({ live, devices, onRefresh, onRevoke }: { live: LiveLink; devices: Device[]; onRefresh(): void; onRevoke(device: Device): Promise<void> }) {
  const targets = controllable(devices);
  const [target, setTarget] = useState('');
  const [text, setText] = useState('');
  const [revokeError, setRevokeError] = useState('');
  const chosen = target || targets[0]?.id || '';
  const started = live.sent.filter((c) => c.command.kind === 'task.start');
  // Opened from a scrolled task list, the page would keep that scroll and hide the list's top.
  useEffect(() => window.scrollTo(0, 0), []);

  return (
    <main class="devices">
      <h1>Devices</h1>
      <ul class="device-list" aria-label="Devices">
        {devices.map((d) => {
          const p = live.presenceOf(d.id);
          const state = d.revokedAt ? 'revoked' : d.current ? 'this browser' : p ? (p.state === 'busy' ? 'running a task' : p.state) : 'offline';
          return (
            <li class={`device ${d.revokedAt ? 'revoked' : ''}`} data-device-id={d.id} data-state={state}>
              <span class={`dot dot-${d.revokedAt ? 'revoked' : d.current ? 'online' : p?.state ?? 'offline'}`} aria-hidden="true" />
              <span class="name">{d.name}</span>
              <span class="kind">{d.kind ?? 'device'}{d.platform ? ` · ${d.platform}` : ''}</span>
              <span class="presence">
                {state}
                {p?.activeTaskId && <> · <a href={`#/find/${encodeURIComponent(p.activeTaskId)}`}>open its task</a></>}
                {!p && !d.current && !d.revokedAt && d.lastSeenAt ? ` · seen ${when(Date.parse(d.lastSeenAt))}` : ''}
              </span>
              {!d.current && !d.revokedAt && (
                <button type="button" class="link-button revoke" aria-label={`Sign out ${d.name}`} onClick={() => {
                  if (!confirm(`Sign out "${d.name}"? It stops syncing at once and must sign in again to sync.`)) return;
                  setRevokeError('');
                  onRevoke(d).catch((error: unknown) => setRevokeError(`Could not sign out "${d.name}": ${errorText(error)}`));
                }}>Sign out</button>
              )}
            </li>
          );
        })}
      </ul>
      {revokeError && <p class="error" role="alert">{revokeError}</p>}
      <button type="button" class="secondary" onClick={onRefresh}>Refresh</button>

      <section class="start" aria-labelledby="start-title">
        <h2 id="start-title">Start a task</h2>
        {targets.length === 0 ? (
          <p class="muted no-control">{NO_CONTROLLABLE_DEVICE}</p>
        ) : (
          <form onSubmit={(e) => {
            e.preventDefault();
            if (!text.trim() || !chosen) return;
            void live.send(chosen, { kind: 'task.start', text: text.trim() });
            setText('');
          }}>
            <label for="start-device">Device</label>
            <select id="start-device" value={chosen} onChange={(e) => setTarget(e.currentTarget.value)}>
              {targets.map((d) => <option value={d.id}>{d.name}{live.presenceOf(d.id) ? '' : ' (offline: queued until it connects)'}</option>)}
            </select>
            <label for="start-text">What should the assistant do?</label>
            <textarea id="start-text" rows={3} value={text} onInput={(e) => setText(e.currentTarget.value)} />
            <button type="submit" class="primary" disabled={!text.trim()}>Start task</button>
          </form>
        )}
        <CommandLog commands={started} devices={devices} />
      </section>
    </main>
  );
}
