/**
 * zlib's native CRC-32 as the outbox journal's checksum: the same values as the pure
 * core/outbox/crc32.ts (a test pins that), without a JavaScript loop over every byte. Node has
 * it from 20.15; on an older Node (engines allows >= 20) the pure one is used.
 */
import * as zlib from 'node:zlib';
import { crc32 } from '../../outbox/crc32';
import type { Checksum } from '../../outbox/journal-record';

/** True when this Node has zlib.crc32. */
export const hasNativeCrc32 = typeof (zlib as { crc32?: unknown }).crc32 === 'function';

/** zlib.crc32 where this Node has it, else the pure one. */
export const nativeChecksum: Checksum = hasNativeCrc32 ? (bytes) => zlib.crc32(bytes) : (bytes) => crc32(bytes);
