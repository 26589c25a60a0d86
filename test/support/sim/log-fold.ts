/**
 * The state the user's change log describes: every change folded in seq order. Each device
 * must end up holding exactly this (convergence), and since the log holds every change the
 * relay acknowledged, holding it means no acknowledged change was lost.
 */
import type { ServerChange, StreamPutBody, StreamTruncateBody } from '../../../core/model/changes';
import { mergeTaskMeta, presentFields, type MetaState } from '../../../core/merge/metadata-merge';
import { applyStreamChanges, orderStream } from '../../../core/merge/stream-merge';

export interface FoldedTask {
  ui: unknown[];
  api: unknown[];
  historyItem: Record<string, unknown>;
  deleted: boolean;
}

export interface FoldedLog {
  /** key `<source>/<taskId>` */
  tasks: Map<string, FoldedTask>;
  /** key `<workspaceId>/<path>` -> content hash of the latest version (deleted files absent). */
  files: Map<string, string>;
}

export function foldLog(changes: readonly ServerChange[]): FoldedLog {
  const streams = new Map<string, { ui: Array<StreamPutBody | StreamTruncateBody>; api: Array<StreamPutBody | StreamTruncateBody> }>();
  const metas = new Map<string, MetaState>();
  const deleted = new Set<string>();
  const files = new Map<string, string>();
  for (const change of [...changes].sort((a, b) => a.seq - b.seq)) {
    const body = change.body;
    if (body.type === 'file.put') files.set(`${body.workspaceId}/${body.path}`, body.hash);
    else if (body.type === 'file.delete') files.delete(`${body.workspaceId}/${body.path}`);
    else {
      const key = `${body.source}/${body.taskId}`;
      if (body.type === 'task.delete') deleted.add(key);
      else if (body.type === 'task.meta') {
        metas.set(key, mergeTaskMeta(metas.get(key) ?? { fields: {}, clocks: {} }, { fields: body.fields, clocks: body.clocks }));
      } else {
        const s = streams.get(key) ?? { ui: [], api: [] };
        s[body.stream].push(body);
        streams.set(key, s);
      }
    }
  }
  const tasks = new Map<string, FoldedTask>();
  for (const key of new Set([...streams.keys(), ...metas.keys()])) {
    const s = streams.get(key) ?? { ui: [], api: [] };
    const taskId = key.slice(key.indexOf('/') + 1);
    const meta = metas.get(key);
    tasks.set(key, {
      ui: orderStream(applyStreamChanges([], s.ui)),
      api: orderStream(applyStreamChanges([], s.api)),
      historyItem: meta ? { ...presentFields(meta), id: taskId } : { id: taskId },
      deleted: deleted.has(key),
    });
  }
  return { tasks, files };
}
