import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { negotiate } from '../../../core/protocol/negotiate';
import { parseClientMessage } from '../../../core/protocol/validate';

const hello = (protocolVersions: number[], codecs: string[]) =>
  parseClientMessage({ type: 'hello', protocolVersions, codecs, token: 't', deviceId: 'd', cursor: 0 }) as Parameters<typeof negotiate>[0];

describe('negotiate', () => {
  it('picks the highest version both sides speak', () => {
    assert.equal(negotiate(hello([1, 2, 3], ['none']), { versions: [1, 2], codecs: ['none'] }).protocolVersion, 2);
    assert.equal(negotiate(hello([1], ['none']), { versions: [1, 2], codecs: ['none'] }).protocolVersion, 1);
  });

  it('prefers brotli, then deflate, then none', () => {
    const server = { versions: [1], codecs: ['none', 'deflate', 'brotli'] as const };
    assert.equal(negotiate(hello([1], ['none', 'deflate', 'brotli']), server).codec, 'brotli');
    assert.equal(negotiate(hello([1], ['deflate', 'none']), server).codec, 'deflate');
    assert.equal(negotiate(hello([1], ['brotli']), { versions: [1], codecs: ['deflate', 'none'] }).codec, 'none');
    assert.equal(negotiate(hello([1], ['zstd']), server).codec, 'none');
  });

  it('throws PROTOCOL_UNSUPPORTED_VERSION when no version is shared', () => {
    assert.throws(
      () => negotiate(hello([2, 3], ['deflate']), { versions: [1], codecs: ['deflate'] }),
      (err: unknown) => isSyncError(err, 'PROTOCOL_UNSUPPORTED_VERSION') && (err.details?.offered as number[]).length === 2,
    );
  });
});
