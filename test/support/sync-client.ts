/** Raw sync clients for relay tests: a socket that has said hello and got its welcome. */
import assert from 'node:assert/strict';
import type { ServerMessage } from '../../core/protocol/messages';
import { RawWsClient } from '../conformance/raw-ws-client';

export interface TestDevice {
  deviceId: string;
  token: string;
}

/** Opens a socket to `url`, says hello as `device` and waits for the welcome. */
export async function connectDevice(
  url: string,
  device: TestDevice,
  options: { cursor?: number; codecs?: string[] } = {},
): Promise<{ client: RawWsClient; welcome: Extract<ServerMessage, { type: 'welcome' }> }> {
  const client = await RawWsClient.open(url);
  client.send({
    type: 'hello',
    protocolVersions: [1],
    codecs: options.codecs ?? ['none'],
    token: device.token,
    deviceId: device.deviceId,
    cursor: options.cursor ?? 0,
  });
  const welcome = await client.waitFor((m) => m.type === 'welcome' || m.type === 'error', 'welcome');
  assert.equal(welcome.type, 'welcome', `expected a welcome, got ${JSON.stringify(welcome)}`);
  if (welcome.type !== 'welcome') throw new Error('no welcome');
  client.useCodec(welcome.codec);
  return { client, welcome };
}

/** A stream.put change for task `taskId` with ui key `<ts>:0`. */
export function streamPut(clientSeq: number, taskId: string, ts: number, text = 'hello') {
  return {
    clientSeq,
    baseSeq: null,
    body: { type: 'stream.put', source: 'roo-code', taskId, stream: 'ui', key: `${ts}:0`, hash: 'a'.repeat(64), entry: { ts, say: 'text', text } },
  };
}
