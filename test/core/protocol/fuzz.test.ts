/**
 * Bad input is data: whatever a peer sends, the decoder and validators answer with a coded
 * SyncError, never another exception. Seeded; a failure prints the seed and the input.
 */
import assert from 'node:assert/strict';
import { SyncError } from '../../../core/errors';
import { nodeCodecRegistry } from '../../../core/node/protocol/node-codecs';
import { FrameCodec } from '../../../core/protocol/frame';
import { parseClientMessage, parseServerMessage } from '../../../core/protocol/validate';
import { createRng, type Rng } from '../../support/rng';
import { SAMPLE_CLIENT_MESSAGES, SAMPLE_SERVER_MESSAGES } from './sample-messages';

const SEED = Number(process.env.FUZZ_SEED ?? 20261126);
const ODD_VALUES: unknown[] = [null, true, 0, -1, 1.5, 2 ** 60, '', 'x', '../..', '\u0000', [], {}, [1, 'a'], { type: 'ping' }, 'A'.repeat(300)];

/** A copy of `value` with one field somewhere replaced, removed or added. */
function mutate(rng: Rng, value: unknown): unknown {
  if (Array.isArray(value)) {
    if (value.length === 0 || rng.chance(0.2)) return rng.pick(ODD_VALUES);
    const copy = [...value];
    const at = rng.int(0, copy.length - 1);
    copy[at] = mutate(rng, copy[at]);
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = { ...value };
    const keys = Object.keys(copy);
    const roll = rng.next();
    if (keys.length === 0 || roll < 0.1) copy[rng.pick(['extra', 'type', '__proto__', 'id'])] = rng.pick(ODD_VALUES);
    else if (roll < 0.25) delete copy[rng.pick(keys)];
    else {
      const key = rng.pick(keys);
      copy[key] = mutate(rng, copy[key]);
    }
    return copy;
  }
  return rng.pick(ODD_VALUES);
}

function onlyCoded(run: () => unknown, prefix: string, describeInput: () => string): void {
  try {
    run();
  } catch (err) {
    if (err instanceof SyncError && err.code.startsWith(prefix)) return;
    assert.fail(`seed ${SEED}: ${String(err)} for ${describeInput()}`);
  }
}

describe('protocol fuzz', () => {
  it('validators throw only PROTOCOL_* SyncErrors for mutated messages', () => {
    const rng = createRng(SEED);
    for (let i = 0; i < 2000; i++) {
      const client = mutate(rng, JSON.parse(JSON.stringify(rng.pick(SAMPLE_CLIENT_MESSAGES))));
      onlyCoded(() => parseClientMessage(client), 'PROTOCOL_', () => JSON.stringify(client).slice(0, 500));
      const server = mutate(rng, JSON.parse(JSON.stringify(rng.pick(SAMPLE_SERVER_MESSAGES))));
      onlyCoded(() => parseServerMessage(server), 'PROTOCOL_', () => JSON.stringify(server).slice(0, 500));
    }
  });

  it('the frame decoder throws only FRAME_* SyncErrors for random and damaged frames', () => {
    const rng = createRng(SEED + 1);
    const codecs = nodeCodecRegistry();
    const sender = new FrameCodec({ codec: 'brotli', codecs, compressThreshold: 0 });
    for (let i = 0; i < 1000; i++) {
      const frame = sender.encode(rng.pick(SAMPLE_CLIENT_MESSAGES));
      const bytes = rng.chance(0.3) ? Uint8Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255)) : frame.slice(0, rng.int(0, frame.length));
      if (bytes.length > 1 && rng.chance(0.5)) bytes[rng.int(1, bytes.length - 1)] ^= 1 << rng.int(0, 7);
      // A fresh receiver each time: a damaged frame leaves a connection's context unusable.
      const receiver = new FrameCodec({ codec: 'brotli', codecs });
      onlyCoded(() => receiver.decode(bytes), 'FRAME_', () => Buffer.from(bytes).toString('hex').slice(0, 200));
    }
  });
});
