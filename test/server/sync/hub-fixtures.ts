/** Fixtures for SyncHub unit tests: a connection that records what it is sent, and a change. */
import type { ServerChange } from '../../../core/model/changes';
import type { HubConnection, LivePage } from '../../../server/sync/sync-hub';

/** A device's connection whose messages and live pages land in `pages`, as their JSON text. */
export function connection(userId: string, deviceId: string, pages: string[]): HubConnection {
  return {
    userId, deviceId, order: 1, presence: { state: 'idle' },
    send: (message) => pages.push(JSON.stringify(message)),
    sendLive: (page: LivePage) => pages.push(page.json),
    close: () => undefined,
  };
}

/** A committed task.meta change of device `dev-a` (its `fields.text` makes it as long as wanted). */
export const change = (seq: number, text?: string): ServerChange => ({
  seq, deviceId: 'dev-a', clientSeq: seq, baseSeq: null, entity: 'task/roo-code/t1',
  body: { type: 'task.meta', source: 'roo-code', taskId: 't1', fields: text === undefined ? {} : { text }, clocks: {} },
} as unknown as ServerChange);
