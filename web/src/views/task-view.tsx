/**
 * One task: its ui messages as the assistant shows them, newest at the bottom, older pages on
 * request; live over /v1/sync (a message the device pushes appears without a reload, a partial
 * message is rewritten in place, a truncate drops what followed). The scroll position is kept:
 * the view follows new messages only when it was at the bottom, and loading older messages
 * keeps what was on screen in place. Below: remote control of the task's device.
 */
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { compareEntryKeys } from '../../../core/model/changes';
import type { Device, MessageView, RelayApi, TaskSummary } from '../api/relay-api';
import type { LiveLink } from '../live/live-link';
import { isUiMessage, totalCost, waitingAsk, type UiMessage } from '../model/ui-messages';
import { ControlBar } from './control-bar';
import { assistantName, count, folderName, money } from './format';
import { errorText, useSubscription } from './hooks';
import { Message } from './message';

interface Entry {
  key: string;
  seq: number;
  message: UiMessage;
}

/** How close to the bottom (px) still counts as "at the bottom". */
const STICK_PX = 80;

function atBottom(): boolean {
  return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - STICK_PX;
}

export function TaskView({ api, live, source, taskId, devices }: { api: RelayApi; live: LiveLink; source: string; taskId: string; devices: Device[] }) {
  const [task, setTask] = useState<TaskSummary | null>(null);
  const [deleted, setDeleted] = useState(false);
  const [entries, setEntries] = useState<Map<string, Entry>>(new Map());
  const [older, setOlder] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState('');
  const [draft, setDraft] = useState('');
  const scroll = useRef<{ follow: boolean; anchorHeight?: number; first: boolean }>({ follow: true, first: true });
  useSubscription(useMemo(() => (l: () => void) => live.subscribe(l), [live]));

  const merge = (views: ReadonlyArray<{ key: string; seq: number; entry: unknown }>) => {
    scroll.current.follow = scroll.current.first || atBottom();
    setEntries((old) => {
      const next = new Map(old);
      for (const v of views) {
        if (!isUiMessage(v.entry)) continue;
        const have = next.get(v.key);
        if (!have || have.seq <= v.seq) next.set(v.key, { key: v.key, seq: v.seq, message: v.entry });
      }
      return next;
    });
  };

  useEffect(() => {
    // Live first, then the read model: nothing committed in between is missed (merge by key and seq).
    const remove = live.onChanges((changes) => {
      const puts: MessageView[] = [];
      for (const c of changes) {
        const body = c.body;
        if (!('taskId' in body) || body.taskId !== taskId || body.source !== source) continue;
        if (body.type === 'stream.put' && body.stream === 'ui') puts.push({ key: body.key, hash: body.hash, seq: c.seq, entry: body.entry });
        else if (body.type === 'stream.truncate' && body.stream === 'ui') {
          setEntries((old) => new Map([...old].filter(([key, e]) => e.seq > c.seq || (body.afterKey !== null && compareEntryKeys(key, body.afterKey) <= 0))));
        } else if (body.type === 'task.meta') {
          api.getTask(source, taskId).then(setTask, () => undefined);
        } else if (body.type === 'task.delete') setDeleted(true);
      }
      if (puts.length > 0) merge(puts);
    });
    Promise.all([api.getTask(source, taskId), api.listMessages(source, taskId)]).then(
      ([summary, page]) => {
        setTask(summary);
        merge(page.messages);
        setOlder(page.nextBefore);
        setLoading(false);
      },
      (err: unknown) => {
        setError(errorText(err));
        setLoading(false);
      },
    );
    return remove;
  }, [api, live, source, taskId]);

  const ordered = useMemo(() => [...entries.values()].sort((a, b) => compareEntryKeys(a.key, b.key)), [entries]);
  const messages = useMemo(() => ordered.map((e) => e.message), [ordered]);

  useLayoutEffect(() => {
    const s = scroll.current;
    if (s.anchorHeight !== undefined) {
      window.scrollBy(0, document.documentElement.scrollHeight - s.anchorHeight);
      s.anchorHeight = undefined;
    } else if (s.follow && ordered.length > 0) {
      window.scrollTo(0, document.documentElement.scrollHeight);
    }
    if (ordered.length > 0) s.first = false;
  }, [ordered]);

  const loadOlder = async () => {
    if (!older) return;
    try {
      const page = await api.listMessages(source, taskId, { before: older });
      scroll.current.anchorHeight = document.documentElement.scrollHeight;
      scroll.current.follow = false;
      setEntries((old) => {
        const next = new Map(old);
        for (const v of page.messages) if (isUiMessage(v.entry) && !next.has(v.key)) next.set(v.key, { key: v.key, seq: v.seq, message: v.entry });
        return next;
      });
      setOlder(page.nextBefore);
    } catch (err) {
      setError(errorText(err));
    }
  };

  const meta = task?.meta ?? {};
  const title = typeof meta.task === 'string' && meta.task.trim() ? meta.task.trim().split('\n')[0] : `Task ${taskId}`;
  const device = devices.find((d) => d.id === task?.deviceId);
  const waiting = waitingAsk(messages);
  const cost = typeof meta.totalCost === 'number' ? meta.totalCost : totalCost(messages);
  const presence = task ? live.presenceOf(task.deviceId) : undefined;

  return (
    <main class="task-view">
      <a class="back" href="#/">← All tasks</a>
      <header class="task-head">
        <h1>{title}</h1>
        <p class="meta">
          <span class={`badge src-${source}`}>{assistantName(source)}</span>
          <span>{device?.name ?? 'unknown device'}{presence?.activeTaskId === taskId ? ' · running now' : ''}</span>
          {folderName(meta.workspace) && <span>{folderName(meta.workspace)}</span>}
          <span>{money(cost) || '$0.00'}</span>
          <span>{count(meta.tokensIn)} in · {count(meta.tokensOut)} out</span>
        </p>
        {deleted && <p class="notice" role="status">This task was deleted on another device.</p>}
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      {older && <button type="button" class="secondary older" onClick={loadOlder}>Show older messages</button>}
      {loading && <p class="muted" aria-busy="true">Loading messages…</p>}
      <ol class="messages" aria-label="Messages">
        {ordered.map((e, i) => <Message key={e.key} message={e.message} index={older ? i + 1 : i} onSuggestion={setDraft} />)}
      </ol>
      {waiting && <p class="waiting" role="status">The assistant is waiting for you ({waiting.replace(/_/g, ' ')}).</p>}
      {task && <ControlBar live={live} devices={devices} task={task} waiting={waiting} draft={draft} onDraft={setDraft} />}
    </main>
  );
}
