/**
 * The shape of a content hash (lower-case hex sha256), apart from the hashing itself
 * (core/model/hash.ts, which needs node:crypto): the protocol validators use it, and they
 * also run in the browser.
 */
export const SHA256_HEX = /^[0-9a-f]{64}$/;
