/**
 * Codecs only Node peers have: brotli through node:zlib. Measured on chat-log JSON push
 * frames (`npx tsx test/bench/run.ts wire`): quality 5 is within 1% of quality 6 in size and
 * about 25% faster; quality 4 loses 2-4 points of reduction. Quality 9 and up cost 50-100x
 * the time for 1-3 points.
 */
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib';
import { SyncError } from '../../errors';
import { CODEC_IDS, createCodecRegistry, inflateLimit, noneCodec, type Codec, type CodecRegistry } from '../../protocol/codecs';

export const DEFAULT_BROTLI_QUALITY = 5;

/** Brotli at `quality` (0..11); inflating stops at `maxBytes` via zlib's `maxOutputLength`. */
export function brotliCodec(quality = DEFAULT_BROTLI_QUALITY): Codec {
  return {
    id: CODEC_IDS.brotli,
    name: 'brotli',
    compress: (bytes) =>
      brotliCompressSync(bytes, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: quality,
          [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
          [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        },
      }),
    decompress: (bytes, maxBytes) => {
      if (bytes.length === 0) throw new SyncError('FRAME_CORRUPT', 'empty brotli stream');
      try {
        // zlib checks maxOutputLength after every output chunk and stops there.
        return brotliDecompressSync(bytes, { maxOutputLength: Math.max(1, maxBytes) });
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw inflateLimit(maxBytes);
        throw new SyncError('FRAME_CORRUPT', 'brotli stream is corrupt or truncated', { reason: (err as Error).message }, { cause: err });
      }
    },
  };
}

/**
 * Raw deflate through node:zlib: the same format as the pure fflate codec (peers mix them
 * freely), but native. It matters most for refusing bombs: zlib stops at `maxOutputLength`
 * after the chunk that crosses it, about 10 ms for a 64 MB bomb against a 1 MB cap where
 * fflate's streaming inflate takes about 0.6 s on this machine.
 */
export function zlibDeflateCodec(level = 6): Codec {
  return {
    id: CODEC_IDS.deflate,
    name: 'deflate',
    compress: (bytes, dictionary) => deflateRawSync(bytes, { level, ...(dictionary && dictionary.length > 0 ? { dictionary } : {}) }),
    decompress: (bytes, maxBytes, dictionary) => {
      if (bytes.length === 0) throw new SyncError('FRAME_CORRUPT', 'empty deflate stream');
      try {
        return inflateRawSync(bytes, {
          maxOutputLength: Math.max(1, maxBytes),
          ...(dictionary && dictionary.length > 0 ? { dictionary } : {}),
        });
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw inflateLimit(maxBytes);
        throw new SyncError('FRAME_CORRUPT', 'deflate stream is corrupt or truncated', { reason: (err as Error).message }, { cause: err });
      }
    },
  };
}

/** none, deflate and brotli, all through node:zlib: what a Node peer offers. */
export function nodeCodecRegistry(options: { brotliQuality?: number } = {}): CodecRegistry {
  return createCodecRegistry([noneCodec, zlibDeflateCodec(), brotliCodec(options.brotliQuality)]);
}
