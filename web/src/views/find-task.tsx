/**
 * `#/find/<taskId>`: a task known only by its id (a device's presence names the task it runs,
 * not its assistant). Looks it up in the task list and opens it.
 */
import { useEffect, useState } from 'preact/hooks';
import type { RelayApi } from '../api/relay-api';
import { errorText } from './hooks';

export function FindTask({ api, taskId }: { api: RelayApi; taskId: string }) {
  const [message, setMessage] = useState('Looking for the task…');
  useEffect(() => {
    api.listTasks({ q: taskId, limit: 20 }).then(
      (page) => {
        const task = page.tasks.find((t) => t.taskId === taskId);
        if (task) location.replace(`#/task/${encodeURIComponent(task.source)}/${encodeURIComponent(task.taskId)}`);
        else setMessage(`Task ${taskId} has not synced yet: it appears in the list once its device sends it.`);
      },
      (err: unknown) => setMessage(errorText(err)),
    );
  }, [api, taskId]);
  return (
    <main>
      <a class="back" href="#/">← All tasks</a>
      <p role="status">{message}</p>
    </main>
  );
}
