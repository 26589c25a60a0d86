/**
 * Body codecs of the wire protocol (DESIGN.md "Wire protocol"). A codec's `id` is the low
 * nibble of the frame header. The pure registry here has `none` and `deflate` (fflate, which
 * also runs in a browser); Node peers add brotli (core/node/protocol/node-codecs.ts).
 *
 * Decompression never trusts the peer: `decompress` stops at `maxBytes` of output and throws
 * `FRAME_INFLATE_LIMIT` without producing the rest, and throws `FRAME_CORRUPT` for input that
 * is not a complete stream of its format.
 */
import { Inflate, deflateSync } from 'fflate';
import { concatBytes } from '../bytes';
import { SyncError } from '../errors';
import type { CodecName } from './messages';

export interface Codec {
  /** Header codec id, 0..15. */
  readonly id: number;
  readonly name: CodecName;
  /** Deflate codecs also take the connection context as a preset `dictionary`. */
  compress(bytes: Uint8Array, dictionary?: Uint8Array): Uint8Array;
  /**
   * Inflates `bytes`; throws `FRAME_INFLATE_LIMIT` past `maxBytes`, `FRAME_CORRUPT` on bad input.
   * Deflate codecs also take the connection context as a preset `dictionary`.
   */
  decompress(bytes: Uint8Array, maxBytes: number, dictionary?: Uint8Array): Uint8Array;
}

/** The codecs one peer can encode and decode, by name and by header id. */
export interface CodecRegistry {
  readonly names: readonly CodecName[];
  get(name: CodecName): Codec | undefined;
  byId(id: number): Codec | undefined;
}

export const CODEC_IDS = { none: 0, deflate: 1, brotli: 2 } as const satisfies Record<CodecName, number>;
/**
 * Header id of deflate with the connection's context: a raw deflate stream whose preset
 * dictionary is the last 32 KB of bodies this connection carried (see frame.ts). Every peer
 * of frame format 1 decodes it (it is pure fflate), so it needs no negotiation.
 */
export const CONTEXT_DEFLATE_ID = 3;

export function createCodecRegistry(codecs: readonly Codec[]): CodecRegistry {
  const byName = new Map(codecs.map((c) => [c.name, c] as const));
  const byId = new Map(codecs.map((c) => [c.id, c] as const));
  return {
    names: codecs.map((c) => c.name),
    get: (name) => byName.get(name),
    byId: (id) => byId.get(id),
  };
}

export const noneCodec: Codec = {
  id: CODEC_IDS.none,
  name: 'none',
  compress: (bytes) => bytes,
  decompress: (bytes, maxBytes) => {
    if (bytes.length > maxBytes) throw inflateLimit(maxBytes);
    return bytes;
  },
};

/** fflate raw deflate. Level 6: levels 1..9 differ by under 1% on chat-log JSON, 6 is fastest here. */
export function deflateCodec(level: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 = 6): Codec {
  return {
    id: CODEC_IDS.deflate,
    name: 'deflate',
    compress: (bytes, dictionary) => deflateSync(bytes, dictionary && dictionary.length > 0 ? { level, dictionary } : { level }),
    decompress: (bytes, maxBytes, dictionary) => inflateCapped(bytes, maxBytes, dictionary),
  };
}

/**
 * Input is fed to the inflater this many bytes at a time, so one step yields at most
 * ~1032x as much output (deflate's best ratio): about 4 MB between two checks of the cap.
 */
const INFLATE_STEP = 4096;

/**
 * Raw-deflate inflate that gives up as soon as the output passes `maxBytes`: a 1 KB bomb
 * of 1 GB costs at most `maxBytes` + one step of memory, never the gigabyte.
 */
export function inflateCapped(bytes: Uint8Array, maxBytes: number, dictionary?: Uint8Array): Uint8Array {
  if (bytes.length === 0) throw new SyncError('FRAME_CORRUPT', 'empty deflate stream');
  const chunks: Uint8Array[] = [];
  let total = 0;
  let over = false;
  const inflater = new Inflate(dictionary && dictionary.length > 0 ? { dictionary } : {}, (chunk) => {
    total += chunk.length;
    if (total > maxBytes) over = true;
    else chunks.push(chunk);
  });
  try {
    for (let offset = 0; offset < bytes.length && !over; offset += INFLATE_STEP) {
      const end = Math.min(bytes.length, offset + INFLATE_STEP);
      inflater.push(bytes.subarray(offset, end), end === bytes.length);
    }
  } catch (err) {
    throw new SyncError('FRAME_CORRUPT', 'deflate stream is corrupt or truncated', { reason: (err as Error).message }, { cause: err });
  }
  if (over) throw inflateLimit(maxBytes);
  return concatBytes(chunks, total);
}

export function inflateLimit(maxBytes: number): SyncError {
  return new SyncError('FRAME_INFLATE_LIMIT', `frame body inflates past ${maxBytes} bytes`, { maxBytes });
}

/** The pure registry: `none` and `deflate`, what every peer has. */
export function defaultCodecRegistry(): CodecRegistry {
  return createCodecRegistry([noneCodec, deflateCodec()]);
}
