/**
 * Every synced task, newest first: search by words, filter by assistant and device. Pages come
 * from GET /v1/tasks as the list scrolls; only the rows near the viewport are in the DOM
 * (fixed row height), so 10,000 tasks cost what 30 do. A task change arriving live re-reads
 * the loaded part of the list.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Device, RelayApi, TaskSummary } from '../api/relay-api';
import type { LiveLink } from '../live/live-link';
import { ASSISTANTS, assistantName, count, folderName, money, when } from './format';
import { errorText, useDebounced } from './hooks';

/** Height of one row in px (styles.css .task-row). */
export const ROW_HEIGHT = 76;
const FIRST_PAGE = 100;
const NEXT_PAGE = 200;
/** Rows rendered above and below the viewport. */
const OVERSCAN = 8;

export function TaskList({ api, live, devices }: { api: RelayApi; live: LiveLink; devices: Device[] }) {
  const [query, setQuery] = useState('');
  const [source, setSource] = useState('');
  const [device, setDevice] = useState('');
  const q = useDebounced(query, 250);
  const [tasks, setTasks] = useState<TaskSummary[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [cursor, setCursor] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState('');
  const [range, setRange] = useState({ start: 0, end: 30 });
  const listRef = useRef<HTMLUListElement>(null);
  const generation = useRef(0);
  const loaded = useRef(0);
  loaded.current = tasks.length;

  const load = async (reset: boolean, limit = reset ? FIRST_PAGE : NEXT_PAGE) => {
    const mine = reset ? ++generation.current : generation.current;
    setLoading(true);
    try {
      const page = await api.listTasks({ q, source, device, limit, cursor: reset ? undefined : cursor });
      if (mine !== generation.current) return;
      setTasks((old) => (reset ? page.tasks : [...old, ...page.tasks]));
      setTotal(page.total);
      setCursor(page.nextCursor);
      setError('');
    } catch (err) {
      if (mine === generation.current) setError(errorText(err));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  };

  useEffect(() => {
    void load(true);
  }, [q, source, device]);

  // A task created, renamed or deleted elsewhere: read the loaded part again (settled, so a burst is one read).
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const remove = live.onChanges((changes) => {
      if (!changes.some((c) => c.body.type === 'task.meta' || c.body.type === 'task.delete')) return;
      clearTimeout(timer);
      timer = setTimeout(() => void load(true, Math.min(1000, Math.max(FIRST_PAGE, loaded.current))), 300);
    });
    return () => {
      clearTimeout(timer);
      remove();
    };
  }, [live, q, source, device]);

  // Which rows are near the viewport; the next page when the end comes near.
  useEffect(() => {
    const update = () => {
      const list = listRef.current;
      if (!list) return;
      const top = list.getBoundingClientRect().top;
      const first = Math.max(0, Math.floor(-top / ROW_HEIGHT) - OVERSCAN);
      const last = Math.ceil((window.innerHeight - top) / ROW_HEIGHT) + OVERSCAN;
      setRange((r) => (r.start === first && r.end === last ? r : { start: first, end: last }));
    };
    update();
    window.addEventListener('scroll', update, { passive: true });
    window.addEventListener('resize', update);
    return () => {
      window.removeEventListener('scroll', update);
      window.removeEventListener('resize', update);
    };
  }, []);
  useEffect(() => {
    if (!loading && cursor && range.end + NEXT_PAGE / 2 > tasks.length) void load(false);
  }, [range.end, tasks.length, cursor, loading]);

  const deviceName = new Map(devices.map((d) => [d.id, d.name]));
  const visible = tasks.slice(range.start, Math.min(range.end, tasks.length));

  return (
    <main class="task-list">
      <h1 class="sr-only">Tasks</h1>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <label class="sr-only" for="task-search">Search tasks</label>
        <input id="task-search" type="search" placeholder="Search tasks" value={query} onInput={(e) => setQuery(e.currentTarget.value)} />
        <label class="sr-only" for="task-source">Assistant</label>
        <select id="task-source" value={source} onChange={(e) => setSource(e.currentTarget.value)}>
          <option value="">All assistants</option>
          {Object.entries(ASSISTANTS).map(([id, name]) => <option value={id}>{name}</option>)}
        </select>
        <label class="sr-only" for="task-device">Device</label>
        <select id="task-device" value={device} onChange={(e) => setDevice(e.currentTarget.value)}>
          <option value="">All devices</option>
          {devices.filter((d) => d.kind !== 'web').map((d) => <option value={d.id}>{d.name}{d.revokedAt ? ' (signed out)' : ''}</option>)}
        </select>
      </form>
      <p class="muted count" role="status" aria-live="polite">
        {total === null ? 'Loading tasks…' : `${total} ${total === 1 ? 'task' : 'tasks'}`}
      </p>
      {error && <p class="error" role="alert">{error}</p>}
      {total === 0 && !loading && <p class="empty">No tasks{q || source || device ? ' match' : ' yet: sign in with the extension or the CLI on a computer and your tasks appear here'}.</p>}
      <ul class="rows" ref={listRef} style={{ height: `${tasks.length * ROW_HEIGHT}px` }} aria-label="Tasks">
        {visible.map((t, i) => (
          <TaskRow key={`${t.source}/${t.taskId}`} task={t} top={(range.start + i) * ROW_HEIGHT} deviceName={deviceName.get(t.deviceId) ?? 'unknown device'} />
        ))}
      </ul>
      {loading && tasks.length > 0 && <p class="muted">Loading more…</p>}
    </main>
  );
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function TaskRow({ task, top, deviceName }: { task: TaskSummary; top: number; deviceName: string }) {
  const title = typeof task.meta.task === 'string' && task.meta.task.trim() ? task.meta.task.trim().split('\n')[0] : `Task ${task.taskId}`;
  const folder = folderName(task.meta.workspace ?? task.meta.cwdOnTaskInitialization);
  const cost = money(task.meta.totalCost);
  return (
    <li class="task-row" style={{ top: `${top}px` }} data-task-id={task.taskId}>
      <a href={`#/task/${encodeURIComponent(task.source)}/${encodeURIComponent(task.taskId)}`}>
        <span class="title">{title}</span>
        <span class="meta">
          <span class={`badge src-${task.source}`}>{assistantName(task.source)}</span>
          <span class="shrink">{deviceName}</span>
          {folder && <span class="shrink">{folder}</span>}
          <span>{when(task.ts)}</span>
        </span>
        <span class="numbers">
          {cost && <span class="cost">{cost}</span>}
          <span class="tokens-short" aria-hidden="true">{count(num(task.meta.tokensIn) + num(task.meta.tokensOut))} tok</span>
          <span class="tokens">{count(task.meta.tokensIn)} in · {count(task.meta.tokensOut)} out</span>
        </span>
      </a>
    </li>
  );
}
