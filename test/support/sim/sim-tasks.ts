/**
 * Small tasks and helpers for HybridStorage tests in a SimWorld: messages, a task of n
 * messages, an edit pushed from one device, the content two devices compare, their conflict
 * copies, and the changes a device sent.
 */
import { asTaskId, type TaskId } from '../../../core/ids';
import type { ServerChange } from '../../../core/model/changes';
import type { TaskSnapshot } from '../../../core/ports/task-store';
import { isTaskConflictCopy } from '../../../core/storage/task-conflict-copy';
import { pullLog } from './convergence';
import type { SimDevice } from './sim-device';
import { SimWorld } from './sim-world';

export const ui = (ts: number, text: string) => ({ ts, type: 'say', say: 'text', text });
export const api = (role: string, text: string) => ({ role, content: [{ type: 'text', text }] });

/** A Roo Code task with `messages` ui and api messages. */
export function simTask(id: string, messages: number, title = `task ${id}`): TaskSnapshot {
  const taskId = asTaskId(id);
  return {
    source: 'roo-code',
    taskId,
    ui: Array.from({ length: messages }, (_, i) => ui(1000 + i, `${id} m${i}`)),
    api: Array.from({ length: messages }, (_, i) => api(i % 2 ? 'assistant' : 'user', `${id} a${i}`)),
    historyItem: { id: taskId, number: 1, ts: 1000, task: title, tokensIn: 10, tokensOut: 20, totalCost: 0.5 },
  };
}

/** What two devices' copies of a task must agree on. */
export const content = (t: TaskSnapshot | null) => t && { ui: t.ui, api: t.api, historyItem: t.historyItem };

/** The assistant on `device` changes a task (`edit` gets its current form), then the device pushes it. */
export async function editOn(world: SimWorld, device: SimDevice, id: TaskId, edit: (t: TaskSnapshot) => TaskSnapshot): Promise<void> {
  world.tick();
  await device.write(edit((await device.store.readTask(id))!));
  await world.run(device.storage!.syncToCloud({ tasks: [{ source: 'roo-code', taskId: id }], files: false }));
}

/** The device's task conflict copies (read as stored, whatever can be read). */
export async function conflictCopies(device: SimDevice): Promise<TaskSnapshot[]> {
  const copies: TaskSnapshot[] = [];
  for (const id of await device.store.listTaskIds()) {
    const t = device.store.peek(id);
    if (t && isTaskConflictCopy(t.historyItem)) copies.push(t);
  }
  return copies;
}

/** Every change in the log that `device` sent. */
export async function changesBy(world: SimWorld, device: SimDevice): Promise<ServerChange[]> {
  return (await pullLog(world.relay, world.userId, world.network)).filter((c) => c.deviceId === device.deviceId);
}

/** Two devices A and B of one user, both holding tasks t1 and t2 (4 messages each), synced. */
export async function syncedPair(): Promise<{ world: SimWorld; a: SimDevice; b: SimDevice; t1: TaskId; t2: TaskId }> {
  const world = new SimWorld();
  const a = await world.addDevice();
  const b = await world.addDevice();
  await a.write(simTask('t1', 4));
  await a.write(simTask('t2', 4));
  await world.syncAll();
  return { world, a, b, t1: asTaskId('t1'), t2: asTaskId('t2') };
}
