import assert from 'node:assert/strict';
import { deflateSync } from 'fflate';
import { isSyncError } from '../../../core/errors';
import { brotliCodec, nodeCodecRegistry, zlibDeflateCodec } from '../../../core/node/protocol/node-codecs';
import { createCodecRegistry, defaultCodecRegistry, deflateCodec, inflateCapped, noneCodec } from '../../../core/protocol/codecs';

const text = new TextEncoder().encode(JSON.stringify({ say: 'text', text: 'hello world '.repeat(500) }));

describe('codecs', () => {
  describe('registries', () => {
    it('the pure registry has none and deflate, the Node one adds brotli', () => {
      assert.deepEqual(defaultCodecRegistry().names, ['none', 'deflate']);
      assert.deepEqual(nodeCodecRegistry().names, ['none', 'deflate', 'brotli']);
      assert.equal(nodeCodecRegistry().byId(2)?.name, 'brotli');
      assert.equal(defaultCodecRegistry().byId(2), undefined);
      assert.equal(createCodecRegistry([noneCodec]).get('deflate'), undefined);
    });
  });

  for (const codec of [deflateCodec(), zlibDeflateCodec(), brotliCodec()]) {
    describe(`${codec.name}`, () => {
      it('round-trips and shrinks chat-log text', () => {
        const packed = codec.compress(text);
        assert.ok(packed.length < text.length / 10);
        assert.deepEqual(Uint8Array.from(codec.decompress(packed, text.length)), text);
      });

      it('throws FRAME_INFLATE_LIMIT one byte under the size', () => {
        assert.throws(() => codec.decompress(codec.compress(text), text.length - 1), (err: unknown) => isSyncError(err, 'FRAME_INFLATE_LIMIT'));
      });
    });
  }

  describe('zlibDeflateCodec (Node peers)', () => {
    const dictionary = new TextEncoder().encode('{"say":"text","text":"hello world hello world"}');

    it('reads what fflate wrote and fflate reads what it wrote, with and without a dictionary', () => {
      const pure = deflateCodec();
      const native = zlibDeflateCodec();
      assert.deepEqual(Uint8Array.from(native.decompress(pure.compress(text), text.length)), text);
      assert.deepEqual(Uint8Array.from(pure.decompress(native.compress(text), text.length)), text);
      const withDictionary = deflateSync(text, { dictionary });
      assert.deepEqual(Uint8Array.from(native.decompress(withDictionary, text.length, dictionary)), text);
    });

    it('refuses a 64 MB bomb with FRAME_INFLATE_LIMIT and garbage with FRAME_CORRUPT', () => {
      const bomb = deflateSync(new Uint8Array(64 * 1024 * 1024));
      assert.throws(() => zlibDeflateCodec().decompress(bomb, 1 << 20), (err: unknown) => isSyncError(err, 'FRAME_INFLATE_LIMIT'));
      assert.throws(() => zlibDeflateCodec().decompress(Uint8Array.from([0xff, 0xff, 0xff]), 100), (err: unknown) => isSyncError(err, 'FRAME_CORRUPT'));
    });
  });

  describe('inflateCapped', () => {
    it('inflates with the preset dictionary the sender used', () => {
      const dictionary = new TextEncoder().encode('hello world '.repeat(100));
      const packed = deflateSync(text, { dictionary });
      assert.deepEqual(inflateCapped(packed, text.length, dictionary), text);
    });

    it('refuses trailing truncation with FRAME_CORRUPT', () => {
      const packed = deflateSync(text);
      assert.throws(() => inflateCapped(packed.subarray(0, packed.length - 2), 1 << 20), (err: unknown) => isSyncError(err, 'FRAME_CORRUPT'));
    });
  });
});
