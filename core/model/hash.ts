import { createHash } from 'node:crypto';

/** Hex sha256 of a string (UTF-8) or bytes: the content hash used everywhere in roo-sync. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Content hash of one JSON value as its compact JSON text (key order as given). */
export function hashJson(value: unknown): string {
  return sha256Hex(JSON.stringify(value));
}

/** The shape of a content hash; defined in hash-format.ts (browser-safe). */
export { SHA256_HEX } from './hash-format';
