/**
 * Codecs only Node peers have: brotli through node:zlib. Measured on chat-log JSON push
 * frames (`npx tsx test/bench/run.ts wire`): quality 5 is within 1% of quality 6 in size and
 * about 25% faster; quality 4 loses 2-4 points of reduction. Quality 9 and up cost 50-100x
 * the time for 1-3 points.
 */
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { SyncError } from '../../errors';
import { CODEC_IDS, createCodecRegistry, deflateCodec, inflateLimit, noneCodec, type Codec, type CodecRegistry } from '../../protocol/codecs';

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

/** none, deflate (fflate) and brotli (node:zlib): what a Node peer offers. */
export function nodeCodecRegistry(options: { brotliQuality?: number } = {}): CodecRegistry {
  return createCodecRegistry([noneCodec, deflateCodec(), brotliCodec(options.brotliQuality)]);
}
