/**
 * Decompression bombs for the frame tests: 1 GiB of zeros in about 1 MB of raw deflate and
 * under 2 KB of brotli, built without ever holding the gigabyte.
 */
import { constants, createBrotliCompress, deflateRawSync } from 'node:zlib';

const SEGMENT = 16 * 1024 * 1024;
const SEGMENTS = 64; // 64 x 16 MiB = 1 GiB

/**
 * Raw deflate of 1 GiB of zeros: one segment compressed with a full flush (byte-aligned,
 * window reset, not final) repeated, then an empty final block.
 */
export function deflateBomb(): Uint8Array {
  const segment = deflateRawSync(Buffer.alloc(SEGMENT), { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const finalBlock = deflateRawSync(Buffer.alloc(0));
  return Buffer.concat([...Array<Buffer>(SEGMENTS).fill(segment), finalBlock]);
}

/**
 * Brotli of 1 GiB of zeros: after the first flushed segment the encoder emits the same bytes
 * for every further segment of zeros, so that metablock is repeated, then an empty last one.
 */
export async function brotliBomb(): Promise<Uint8Array> {
  const encoder = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
  const zeros = Buffer.alloc(SEGMENT);
  const segments: Buffer[] = [];
  let current: Buffer[] = [];
  encoder.on('data', (chunk: Buffer) => current.push(chunk));
  for (let i = 0; i < 2; i++) {
    encoder.write(zeros);
    await new Promise<void>((resolve) => encoder.flush(constants.BROTLI_OPERATION_FLUSH, () => resolve()));
    segments.push(Buffer.concat(current));
    current = [];
  }
  encoder.destroy();
  const [first, repeat] = segments as [Buffer, Buffer];
  const lastEmptyMetablock = Buffer.from([0x03]);
  return Buffer.concat([first, ...Array<Buffer>(SEGMENTS - 1).fill(repeat), lastEmptyMetablock]);
}
