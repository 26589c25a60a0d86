/**
 * Picks the protocol version and body codec of a connection from the device's `hello` and
 * what the relay speaks (DESIGN.md "Wire protocol").
 */
import { SyncError } from '../errors';
import type { CodecName, HelloMessage } from './messages';

/** Best first: brotli is ~3x smaller than deflate on chat-log JSON; deflate is everywhere. */
export const CODEC_PREFERENCE: readonly CodecName[] = ['brotli', 'deflate', 'none'];

export interface Negotiated {
  protocolVersion: number;
  codec: CodecName;
}

/**
 * The highest protocol version both sides speak, and the most preferred codec both offer
 * (`none` when they share no other: every peer decodes uncompressed frames).
 * Throws SyncError `PROTOCOL_UNSUPPORTED_VERSION` (details: offered, supported) when no
 * version is shared; the relay then closes with `CloseCode.UnsupportedVersion`.
 */
export function negotiate(
  hello: Pick<HelloMessage, 'protocolVersions' | 'codecs'>,
  server: { versions: readonly number[]; codecs: readonly CodecName[] },
): Negotiated {
  const common = hello.protocolVersions.filter((v) => server.versions.includes(v));
  if (common.length === 0) {
    throw new SyncError('PROTOCOL_UNSUPPORTED_VERSION', 'no protocol version in common', {
      offered: hello.protocolVersions.slice(0, 16),
      supported: [...server.versions],
    });
  }
  const codec = CODEC_PREFERENCE.find((name) => hello.codecs.includes(name) && server.codecs.includes(name)) ?? 'none';
  return { protocolVersion: Math.max(...common), codec };
}
