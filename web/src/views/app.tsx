/**
 * The page's shell: restores the browser's session from its cookie (or shows sign-in), opens
 * the live link once signed in, loads the user's devices, and routes by the location hash:
 * `#/` the task list, `#/task/<source>/<id>` one task, `#/devices` devices and new tasks.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Device, RelayApi } from '../api/relay-api';
import { LiveLink } from '../live/live-link';
import { DevicesView } from './devices';
import { FindTask } from './find-task';
import { errorText, useHashRoute, useSubscription } from './hooks';
import { SignIn } from './sign-in';
import { TaskList } from './task-list';
import { TaskView } from './task-view';

type Phase = 'loading' | 'signed-out' | 'signed-in';

export function App({ api }: { api: RelayApi }) {
  const [phase, setPhase] = useState<Phase>('loading');
  const [live, setLive] = useState<LiveLink | null>(null);
  const [devices, setDevices] = useState<Device[]>([]);
  const [notice, setNotice] = useState('');
  const route = useHashRoute();

  const startSession = useCallback(() => {
    const session = api.current;
    if (!session) return;
    setLive(new LiveLink({ deviceId: session.deviceId, getToken: () => api.accessToken() }));
    setPhase('signed-in');
  }, [api]);

  const signedOut = useCallback((message = '') => {
    setLive((link) => {
      link?.close();
      return null;
    });
    setDevices([]);
    setNotice(message);
    setPhase('signed-out');
  }, []);

  useEffect(() => {
    api.restore().then(
      (session) => (session ? startSession() : setPhase('signed-out')),
      (error: unknown) => signedOut(errorText(error)),
    );
    return api.onSignedOut(() => signedOut('Your session ended (signed out or revoked). Sign in again.'));
  }, [api, startSession, signedOut]);

  const refreshDevices = useCallback(() => {
    api.listDevices().then(setDevices, () => undefined);
  }, [api]);
  const revokeDevice = useCallback(
    async (device: Device) => {
      try {
        await api.revokeDevice(device.id);
      } finally {
        refreshDevices();
      }
    },
    [api, refreshDevices],
  );
  useEffect(() => {
    if (phase === 'signed-in') refreshDevices();
  }, [phase, refreshDevices]);
  // A device signed in since the list was read announces itself: read the list again.
  const known = useRef<Device[]>([]);
  known.current = devices;
  useEffect(() => {
    if (!live) return undefined;
    return live.client.onPresence((p) => {
      if (!known.current.some((d) => d.id === p.deviceId)) refreshDevices();
    });
  }, [live, refreshDevices]);

  // The relay ended the live link for good (this browser's device was revoked elsewhere): check
  // the session; a refused cookie signs the page out.
  useEffect(() => {
    if (!live) return undefined;
    return live.client.onStatus((status) => {
      if (status.stopped) void api.restore().catch(() => undefined);
    });
  }, [api, live]);

  useSubscription(useMemo(() => (live ? (l: () => void) => live.subscribe(l) : undefined), [live]));

  if (phase === 'loading') return <main class="center" aria-busy="true"><p>Loading…</p></main>;
  if (phase === 'signed-out' || !live) {
    return (
      <SignIn
        notice={notice}
        onSignIn={async (email, password) => {
          await api.login(email, password);
          setNotice('');
          startSession();
        }}
      />
    );
  }

  const status = live.status;
  const [section, a, b] = route;
  const logout = async () => {
    await api.logout().catch(() => undefined);
    signedOut('Signed out. This browser is no longer a device of your account.');
    location.hash = '#/';
  };

  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="#/">roo-sync</a>
        <nav aria-label="Main">
          <a href="#/" aria-current={section === undefined || section === 'task' ? 'page' : undefined}>Tasks</a>
          <a href="#/devices" aria-current={section === 'devices' ? 'page' : undefined}>Devices</a>
        </nav>
        <span class={`live live-${status.state}`} role="status" title={status.lastError ? errorText(status.lastError) : undefined}>
          {status.state === 'online' ? 'Live' : status.state === 'connecting' ? 'Connecting…' : 'Offline'}
        </span>
        <button type="button" class="link-button" onClick={logout}>Sign out</button>
      </header>
      {section === 'task' && a && b ? (
        <TaskView key={`${a}/${b}`} api={api} live={live} source={a} taskId={b} devices={devices} />
      ) : section === 'find' && a ? (
        <FindTask api={api} taskId={a} />
      ) : section === 'devices' ? (
        <DevicesView live={live} devices={devices} onRefresh={refreshDevices} onRevoke={revokeDevice} />
      ) : (
        <TaskList api={api} live={live} devices={devices} />
      )}
    </div>
  );
}
