import assert from 'node:assert/strict';
import { brotliCompressSync } from 'node:zlib';
import { deflateSync } from 'fflate';
import { isSyncError } from '../../../core/errors';
import { nodeCodecRegistry } from '../../../core/node/protocol/node-codecs';
import { CONTEXT_DEFLATE_ID, defaultCodecRegistry, type CodecRegistry } from '../../../core/protocol/codecs';
import {
  decodeHelloFrame,
  encodeHelloFrame,
  FrameCodec,
  frameHeaderByte,
  isSharedFrame,
  MAX_HELLO_FRAME_BYTES,
  type FrameCodecOptions,
  type SharedFrameBody,
} from '../../../core/protocol/frame';
import { CODEC_NAMES, type ClientMessage, type HelloMessage } from '../../../core/protocol/messages';
import { parseClientMessage, parseServerMessage } from '../../../core/protocol/validate';
import { createRng } from '../../support/rng';
import { brotliBomb, deflateBomb } from './bombs';
import { SAMPLE_CLIENT_MESSAGES, SAMPLE_SERVER_MESSAGES } from './sample-messages';

const utf8 = new TextEncoder();

/** Two ends of one connection. */
function pair(options: Partial<FrameCodecOptions> & Pick<FrameCodecOptions, 'codec'>) {
  const codecs = nodeCodecRegistry();
  return { sender: new FrameCodec({ codecs, ...options }), receiver: new FrameCodec({ codecs, ...options }) };
}

function frame(codecId: number, payload: Uint8Array | string): Uint8Array {
  const body = typeof payload === 'string' ? utf8.encode(payload) : payload;
  const out = new Uint8Array(body.length + 1);
  out[0] = frameHeaderByte(codecId);
  out.set(body, 1);
  return out;
}

function decodeFails(codec: FrameCodec, bytes: Uint8Array, code: string): void {
  assert.throws(() => codec.decode(bytes), (err: unknown) => isSyncError(err, code), `expected ${code}`);
}

/** A push big enough to be compressed under every threshold. */
const bigPush: ClientMessage = {
  ...(SAMPLE_CLIENT_MESSAGES[2] as Extract<ClientMessage, { type: 'push' }>),
  id: 'r-big' as never,
};
(bigPush as { changes: unknown[] }).changes = Array.from({ length: 40 }, () => (SAMPLE_CLIENT_MESSAGES[2] as { changes: unknown[] }).changes).flat().map((c, i) => ({ ...(c as object), clientSeq: i + 1 }));

describe('FrameCodec', () => {
  describe('#encode and #decode', () => {
    for (const codec of CODEC_NAMES) {
      for (const context of [false, true]) {
        for (const compressThreshold of [0, 1024]) {
          it(`round-trips every message type with ${codec}${context ? ' and context' : ''}, threshold ${compressThreshold}`, () => {
            const { sender, receiver } = pair({ codec, context, compressThreshold });
            for (const message of [...SAMPLE_CLIENT_MESSAGES, bigPush]) {
              assert.deepEqual(parseClientMessage(receiver.decode(sender.encode(message))), message);
            }
            for (const message of SAMPLE_SERVER_MESSAGES) {
              assert.deepEqual(parseServerMessage(sender.decode(receiver.encode(message))), message);
            }
            assert.equal(sender.stats.framesEncoded, SAMPLE_CLIENT_MESSAGES.length + 1);
            assert.equal(receiver.stats.framesDecoded, SAMPLE_CLIENT_MESSAGES.length + 1);
          });
        }
      }
    }

    it('writes version 1 and the codec in the header, compressing only above the threshold', () => {
      const { sender } = pair({ codec: 'brotli', context: false });
      assert.equal(sender.encode({ type: 'ping', id: 'r1' as never })[0], 0x10);
      assert.equal(sender.encode(bigPush)[0], 0x12);
      const deflate = pair({ codec: 'deflate', context: false }).sender;
      assert.equal(deflate.encode(bigPush)[0], 0x11);
      assert.equal(deflate.compressThreshold, 1024);
    });

    it('uses the connection context for small frames and sends them much smaller', () => {
      const withContext = pair({ codec: 'deflate' });
      const without = pair({ codec: 'deflate', context: false, compressThreshold: 128 });
      let contextBytes = 0;
      let plainBytes = 0;
      for (let i = 0; i < 50; i++) {
        const message = { ...(SAMPLE_CLIENT_MESSAGES[2] as object), id: `r${i}`, changes: [(SAMPLE_CLIENT_MESSAGES[2] as { changes: unknown[] }).changes[i % 8]] } as ClientMessage;
        const a = withContext.sender.encode(message);
        const b = without.sender.encode(message);
        if (i > 0) assert.equal(a[0]! & 0x0f, CONTEXT_DEFLATE_ID);
        assert.deepEqual(withContext.receiver.decode(a), JSON.parse(JSON.stringify(message)));
        contextBytes += a.length;
        plainBytes += b.length;
      }
      assert.ok(contextBytes < plainBytes * 0.6, `context ${contextBytes} vs per-frame ${plainBytes}`);
    });

    it('lets a Node peer (zlib) and a pure peer (fflate) read each other\'s context frames', () => {
      const node = { codec: 'deflate' as const, codecs: nodeCodecRegistry() };
      const pure = { codec: 'deflate' as const, codecs: defaultCodecRegistry() };
      for (const [from, to] of [[node, pure], [pure, node]] as const) {
        const sender = new FrameCodec(from);
        const receiver = new FrameCodec(to);
        for (let i = 0; i < 30; i++) {
          const message = { ...(SAMPLE_CLIENT_MESSAGES[2] as object), id: `r${i}`, changes: [(SAMPLE_CLIENT_MESSAGES[2] as { changes: unknown[] }).changes[i % 8]] } as ClientMessage;
          const bytes = sender.encode(message);
          if (i > 0) assert.equal(bytes[0]! & 0x0f, CONTEXT_DEFLATE_ID);
          assert.deepEqual(receiver.decode(bytes), JSON.parse(JSON.stringify(message)));
        }
      }
    });

    it('keeps the context across setCodec (a client learns the codec from welcome)', () => {
      const relay = new FrameCodec({ codec: 'deflate' });
      const client = new FrameCodec({ codec: 'none' });
      const welcome = SAMPLE_SERVER_MESSAGES[0]!;
      assert.deepEqual(client.decode(relay.encode(welcome)), welcome);
      client.setCodec('deflate');
      assert.equal(client.codec, 'deflate');
      for (const message of SAMPLE_SERVER_MESSAGES) assert.deepEqual(client.decode(relay.encode(message)), message);
      assert.deepEqual(relay.decode(client.encode(bigPush)), JSON.parse(JSON.stringify(bigPush)));
    });

    it('refuses to encode a message the peer would refuse with FRAME_TOO_LARGE', () => {
      const small = new FrameCodec({ codec: 'none', maxFrameBytes: 1000 });
      assert.throws(() => small.encode(bigPush), (err: unknown) => isSyncError(err, 'FRAME_TOO_LARGE'));
      const capped = new FrameCodec({ codec: 'deflate', maxInflatedBytes: 1000 });
      assert.throws(() => capped.encode(bigPush), (err: unknown) => isSyncError(err, 'FRAME_TOO_LARGE'));
    });

    it('keeps both contexts in step when an encode is refused as too large', () => {
      const { sender, receiver } = pair({ codec: 'deflate', maxFrameBytes: 2000 });
      const rng = createRng(7);
      const noise = Array.from({ length: 3000 }, () => String.fromCharCode(rng.int(33, 126))).join('');
      const ping = (id: string) => ({ type: 'ping', id: id as never }) as const;
      assert.deepEqual(receiver.decode(sender.encode({ ...ping('r1'), pad: 'warm up the window '.repeat(20) } as never)), {
        ...ping('r1'),
        pad: 'warm up the window '.repeat(20),
      });
      assert.throws(() => sender.encode({ ...ping('r2'), pad: noise } as never), (err: unknown) => isSyncError(err, 'FRAME_TOO_LARGE'));
      const next = { ...ping('r3'), pad: 'warm up the window, again '.repeat(20) };
      const bytes = sender.encode(next as never);
      assert.equal(bytes[0]! & 0x0f, CONTEXT_DEFLATE_ID);
      assert.deepEqual(receiver.decode(bytes), next);
    });

    it('compresses a message shared by several connections once per codec, each connection keeping its own context', () => {
      const base = nodeCodecRegistry();
      let brotliCalls = 0;
      const brotli = base.get('brotli')!;
      const counted = { ...brotli, compress: (bytes: Uint8Array) => (brotliCalls++, brotli.compress(bytes)) };
      const codecs: CodecRegistry = { names: base.names, get: (n) => (n === 'brotli' ? counted : base.get(n)), byId: (id) => (id === counted.id ? counted : base.byId(id)) };
      const ends = Array.from({ length: 3 }, () => ({
        relay: new FrameCodec({ codec: 'brotli', codecs, contextMaxBytes: 1024 }),
        device: new FrameCodec({ codec: 'brotli', codecs, contextMaxBytes: 1024 }),
      }));
      const big = { type: 'changes', changes: [], cursor: 1, hasMore: true, pad: 'a live page '.repeat(500) };
      const small = { type: 'changes', changes: [], cursor: 2, hasMore: true, pad: 'a small page '.repeat(40) };
      for (const message of [big, small, big]) {
        const json = JSON.stringify(message);
        const shared = {};
        for (const { relay, device } of ends) assert.deepEqual(device.decode(relay.encodeJson(json, shared)), message);
      }
      // The large pages went through brotli once each; the small one through every connection's context.
      assert.equal(brotliCalls, 2);
    });

    it('gives every connection the same frame object for a shared message without context, and each its own context frame', () => {
      const codecs = nodeCodecRegistry();
      const plain = [new FrameCodec({ codec: 'none', codecs }), new FrameCodec({ codec: 'none', codecs })];
      const context = [new FrameCodec({ codec: 'deflate', codecs }), new FrameCodec({ codec: 'deflate', codecs })];
      const message = { type: 'changes', changes: [], cursor: 3, hasMore: false, pad: 'a live page '.repeat(30) };
      const json = JSON.stringify(message);
      const shared: SharedFrameBody = {};
      const [a, b] = plain.map((relay) => relay.encodeJson(json, shared));
      assert.equal(a, b);
      assert.ok(isSharedFrame(shared, a!));
      const [c, d] = context.map((relay) => relay.encodeJson(json, shared));
      assert.equal(c![0], frameHeaderByte(CONTEXT_DEFLATE_ID));
      assert.notEqual(c, d);
      assert.ok(!isSharedFrame(shared, c!) && !isSharedFrame(shared, d!));
      assert.ok(!isSharedFrame({}, a!));
      // Each connection still counts the frame it sent.
      for (const relay of plain) assert.equal(relay.stats.framesEncoded, 1);
      assert.deepEqual(new FrameCodec({ codec: 'none', codecs }).decode(a!), message);
    });

    it('refuses a codec it does not have with FRAME_UNKNOWN_CODEC', () => {
      assert.throws(() => new FrameCodec({ codec: 'brotli', codecs: defaultCodecRegistry() }), (err: unknown) => isSyncError(err, 'FRAME_UNKNOWN_CODEC'));
    });
  });

  describe('#decode of bad frames', () => {
    const codec = () => new FrameCodec({ codec: 'deflate', codecs: nodeCodecRegistry() });

    it('refuses an empty frame with FRAME_EMPTY', () => decodeFails(codec(), new Uint8Array(0), 'FRAME_EMPTY'));

    it('refuses other frame format versions with FRAME_BAD_VERSION', () => {
      decodeFails(codec(), Uint8Array.from([0x20, 0x7b, 0x7d]), 'FRAME_BAD_VERSION');
      decodeFails(codec(), Uint8Array.from([0x00, 0x7b, 0x7d]), 'FRAME_BAD_VERSION');
      decodeFails(codec(), utf8.encode('{"type":"ping"}'), 'FRAME_BAD_VERSION');
    });

    it('refuses unknown codec ids with FRAME_UNKNOWN_CODEC', () => {
      decodeFails(codec(), frame(9, '{}'), 'FRAME_UNKNOWN_CODEC');
      const pure = new FrameCodec({ codec: 'deflate' });
      decodeFails(pure, frame(2, brotliCompressSync(utf8.encode('{"type":"ping","id":"r"}'))), 'FRAME_UNKNOWN_CODEC');
    });

    it('refuses frames over the size cap with FRAME_TOO_LARGE', () => {
      const small = new FrameCodec({ codec: 'none', maxFrameBytes: 64 });
      decodeFails(small, frame(0, JSON.stringify({ type: 'ping', id: 'x'.repeat(100) })), 'FRAME_TOO_LARGE');
    });

    it('refuses truncated and garbled compressed bodies with FRAME_CORRUPT', () => {
      const { sender } = pair({ codec: 'deflate', context: false });
      const good = sender.encode(bigPush);
      decodeFails(codec(), good.subarray(0, good.length >> 1), 'FRAME_CORRUPT');
      const brotli = pair({ codec: 'brotli', context: false }).sender.encode(bigPush);
      assert.equal(brotli[0], 0x12);
      decodeFails(codec(), brotli.subarray(0, brotli.length >> 1), 'FRAME_CORRUPT');
      decodeFails(codec(), frame(1, Uint8Array.from([0xff, 0xff, 0xff, 0xff])), 'FRAME_CORRUPT');
      decodeFails(codec(), frame(2, Uint8Array.from([0xff, 0xff, 0xff, 0xff])), 'FRAME_CORRUPT');
      decodeFails(codec(), frame(1, new Uint8Array(0)), 'FRAME_CORRUPT');
      decodeFails(codec(), frame(CONTEXT_DEFLATE_ID, new Uint8Array(0)), 'FRAME_CORRUPT');
    });

    it('refuses bodies that are not UTF-8 JSON with FRAME_BAD_JSON', () => {
      decodeFails(codec(), frame(0, '{"type":"ping",'), 'FRAME_BAD_JSON');
      decodeFails(codec(), frame(0, ''), 'FRAME_BAD_JSON');
      decodeFails(codec(), frame(0, Uint8Array.from([0x22, 0xc3, 0x28, 0x22])), 'FRAME_BAD_JSON');
      decodeFails(codec(), frame(1, deflateSync(utf8.encode('not json'))), 'FRAME_BAD_JSON');
    });

    it('stops inflating at the cap for a small compressed body', () => {
      const capped = new FrameCodec({ codec: 'deflate', maxInflatedBytes: 1000 });
      decodeFails(capped, frame(1, deflateSync(utf8.encode(JSON.stringify({ pad: 'x'.repeat(5000) })))), 'FRAME_INFLATE_LIMIT');
      decodeFails(capped, frame(0, JSON.stringify({ pad: 'x'.repeat(2000) })), 'FRAME_INFLATE_LIMIT');
    });
  });

  describe('decompression bombs (1 GiB of zeros)', function () {
    this.timeout(20_000);
    let deflated: Uint8Array;
    let brotlied: Uint8Array;

    before(async () => {
      deflated = deflateBomb();
      brotlied = await brotliBomb();
    });

    /** Peak RSS may not grow by anything near the bomb's size. */
    function withoutMaterialising(run: () => void): void {
      const before = process.resourceUsage().maxRSS;
      run();
      const grownMiB = (process.resourceUsage().maxRSS - before) / 1024;
      assert.ok(grownMiB < 300, `peak RSS grew by ${grownMiB.toFixed(0)} MiB`);
    }

    for (const [name, codecId, maxInflatedBytes] of [
      ['deflate', 1, undefined],
      ['deflate with context', CONTEXT_DEFLATE_ID, 8 << 20],
      ['brotli', 2, undefined],
    ] as const) {
      it(`refuses a ${name} bomb with FRAME_INFLATE_LIMIT at ${maxInflatedBytes ? '8 MiB' : 'the default cap'}`, () => {
        const bomb = codecId === 2 ? brotlied : deflated;
        assert.ok(bomb.length < 2_000_000, `bomb is ${bomb.length} bytes`);
        const codec = new FrameCodec({ codec: 'deflate', codecs: nodeCodecRegistry(), maxInflatedBytes });
        withoutMaterialising(() => decodeFails(codec, frame(codecId, bomb), 'FRAME_INFLATE_LIMIT'));
      });
    }
  });
});

describe('hello frames', () => {
  const hello = SAMPLE_CLIENT_MESSAGES[0] as HelloMessage;

  it('are always sent uncompressed and decode to the hello', () => {
    const bytes = encodeHelloFrame({ ...hello, token: 'x'.repeat(4000) });
    assert.equal(bytes[0], 0x10);
    assert.equal((parseClientMessage(decodeHelloFrame(bytes)) as HelloMessage).token.length, 4000);
  });

  it('refuses a compressed hello with FRAME_UNEXPECTED_CODEC', () => {
    const compressed = new FrameCodec({ codec: 'deflate', context: false, compressThreshold: 0 }).encode(hello);
    assert.throws(() => decodeHelloFrame(compressed), (err: unknown) => isSyncError(err, 'FRAME_UNEXPECTED_CODEC'));
  });

  it('refuses a hello over MAX_HELLO_FRAME_BYTES with FRAME_TOO_LARGE', () => {
    const bytes = encodeHelloFrame({ ...hello, token: 'x'.repeat(MAX_HELLO_FRAME_BYTES) });
    assert.throws(() => decodeHelloFrame(bytes), (err: unknown) => isSyncError(err, 'FRAME_TOO_LARGE'));
  });
});
