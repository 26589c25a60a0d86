import assert from 'node:assert/strict';
import { isSyncError, SyncError } from '../../../core/errors';
import {
  parseChangeBody,
  parseClientChange,
  parseClientMessage,
  parseServerChange,
  parseServerMessage,
  PROTOCOL_LIMITS,
} from '../../../core/protocol/validate';
import {
  SAMPLE_BODIES,
  SAMPLE_CLIENT_CHANGES,
  SAMPLE_CLIENT_MESSAGES,
  SAMPLE_SERVER_CHANGES,
  SAMPLE_SERVER_MESSAGES,
} from './sample-messages';

/** A deep copy, as a peer's JSON would arrive. */
const wire = <T>(value: T): any => JSON.parse(JSON.stringify(value));

function assertCode(fn: () => unknown, code: string, field?: string): SyncError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(isSyncError(caught), `expected SyncError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (field !== undefined) assert.equal(caught.details?.field, field, caught.message);
  return caught;
}

describe('protocol validators', () => {
  describe('#parseClientMessage', () => {
    for (const message of SAMPLE_CLIENT_MESSAGES) {
      it(`accepts a valid ${message.type} and returns it unchanged`, () => {
        assert.deepEqual(parseClientMessage(wire(message)), message);
      });
    }

    it('drops fields it does not know', () => {
      const parsed = parseClientMessage({ type: 'ping', id: 'r1', extra: 'x' });
      assert.deepEqual(parsed, { type: 'ping', id: 'r1' });
    });

    it('refuses a value that is not an object with PROTOCOL_MALFORMED', () => {
      for (const value of [null, 42, 'ping', [], undefined]) assertCode(() => parseClientMessage(value), 'PROTOCOL_MALFORMED');
      assertCode(() => parseClientMessage({ id: 'r1' }), 'PROTOCOL_MALFORMED');
      assertCode(() => parseClientMessage({ type: 7 }), 'PROTOCOL_MALFORMED');
    });

    it('refuses an unknown type with PROTOCOL_UNKNOWN_TYPE, naming the request', () => {
      const err = assertCode(() => parseClientMessage({ type: 'subscribe', id: 'r9' }), 'PROTOCOL_UNKNOWN_TYPE');
      assert.equal(err.details?.requestId, 'r9');
      assertCode(() => parseClientMessage({ type: 'welcome' }), 'PROTOCOL_UNKNOWN_TYPE');
      assertCode(() => parseClientMessage({ type: '__proto__' }), 'PROTOCOL_UNKNOWN_TYPE');
    });

    const invalid: Array<[string, unknown, string]> = [
      ['hello without versions', { ...wire(SAMPLE_CLIENT_MESSAGES[0]), protocolVersions: [] }, 'protocolVersions'],
      ['hello with a fractional version', { ...wire(SAMPLE_CLIENT_MESSAGES[0]), protocolVersions: [1.5] }, 'protocolVersions[0]'],
      ['hello with a negative cursor', { ...wire(SAMPLE_CLIENT_MESSAGES[0]), cursor: -1 }, 'cursor'],
      ['hello with a string cursor', { ...wire(SAMPLE_CLIENT_MESSAGES[0]), cursor: '5' }, 'cursor'],
      ['hello without a token', { ...wire(SAMPLE_CLIENT_MESSAGES[0]), token: '' }, 'token'],
      ['auth with a numeric id', { type: 'auth', id: 1, token: 't' }, 'id'],
      ['push with changes not an array', { type: 'push', id: 'r', changes: {} }, 'changes'],
      ['pull with limit 0', { type: 'pull', id: 'r', cursor: 0, limit: 0 }, 'limit'],
      ['pull over the page limit', { type: 'pull', id: 'r', cursor: 0, limit: 1001 }, 'limit'],
      ['pull with NaN-ish cursor', { type: 'pull', id: 'r', cursor: 1e300, limit: 1 }, 'cursor'],
      ['command.send of an unknown kind', { type: 'command.send', id: 'r', targetDeviceId: 'd', command: { kind: 'rm -rf' } }, 'command.kind'],
      [
        'command.send message without task id',
        { type: 'command.send', id: 'r', targetDeviceId: 'd', command: { kind: 'task.message', text: 'x' } },
        'command.taskId',
      ],
      [
        'command.send with a non-data image',
        { type: 'command.send', id: 'r', targetDeviceId: 'd', command: { kind: 'task.start', images: ['http://x/y.png'] } },
        'command.images[0]',
      ],
      ['command.response reporting expired', { type: 'command.response', id: 'r', commandId: 'c', status: 'expired' }, 'status'],
      ['presence.update with an unknown state', { type: 'presence.update', state: 'sleeping' }, 'state'],
      ['presence.update with a path as task id', { type: 'presence.update', state: 'busy', activeTaskId: '../etc' }, 'activeTaskId'],
      ['ping with a null id', { type: 'ping', id: null }, 'id'],
      ['ping with an id with spaces', { type: 'ping', id: 'a b' }, 'id'],
    ];
    for (const [what, value, field] of invalid) {
      it(`refuses ${what} with PROTOCOL_INVALID_FIELD at ${field}`, () => {
        assertCode(() => parseClientMessage(value), 'PROTOCOL_INVALID_FIELD', field);
      });
    }

    it('names the message type and request id of an invalid message', () => {
      const err = assertCode(() => parseClientMessage({ type: 'pull', id: 'r42', cursor: -1, limit: 1 }), 'PROTOCOL_INVALID_FIELD');
      assert.equal(err.details?.messageType, 'pull');
      assert.equal(err.details?.requestId, 'r42');
      assert.equal(typeof err.details?.expected, 'string');
    });

    it('gives the full path of a bad field deep in a push', () => {
      const push = wire(SAMPLE_CLIENT_MESSAGES[2]);
      push.changes[2].body.key = '01:0';
      assertCode(() => parseClientMessage(push), 'PROTOCOL_INVALID_FIELD', 'changes[2].body.key');
    });

    it('refuses a push of more changes than the limit', () => {
      const change = wire(SAMPLE_CLIENT_CHANGES[2]);
      const changes = Array.from({ length: PROTOCOL_LIMITS.maxChangesPerMessage + 1 }, (_, i) => ({ ...change, clientSeq: i + 1 }));
      assertCode(() => parseClientMessage({ type: 'push', id: 'r', changes }), 'PROTOCOL_INVALID_FIELD', 'changes');
    });

    it('drops codec names it does not know from hello instead of refusing it', () => {
      const hello = parseClientMessage({ ...wire(SAMPLE_CLIENT_MESSAGES[0]), codecs: ['zstd', 'deflate'] });
      assert.equal(hello.type, 'hello');
      assert.deepEqual(hello.type === 'hello' && hello.codecs, ['deflate']);
    });
  });

  describe('#parseServerMessage', () => {
    for (const message of SAMPLE_SERVER_MESSAGES) {
      it(`accepts a valid ${message.type} and returns it unchanged`, () => {
        assert.deepEqual(parseServerMessage(wire(message)), message);
      });
    }

    it('refuses a client message type with PROTOCOL_UNKNOWN_TYPE', () => {
      assertCode(() => parseServerMessage({ type: 'push', id: 'r', changes: [] }), 'PROTOCOL_UNKNOWN_TYPE');
    });

    it('accepts a welcome without lastClientSeq (a relay from before the field)', () => {
      const { lastClientSeq, ...older } = wire(SAMPLE_SERVER_MESSAGES[0]);
      assert.equal(lastClientSeq, 37);
      const parsed = parseServerMessage(older);
      assert.equal(parsed.type === 'welcome' && 'lastClientSeq' in parsed, false);
    });

    const invalid: Array<[string, unknown, string]> = [
      ['welcome with an unknown codec', { ...wire(SAMPLE_SERVER_MESSAGES[0]), codec: 'zstd' }, 'codec'],
      ['welcome with resync as a string', { ...wire(SAMPLE_SERVER_MESSAGES[0]), resync: 'no' }, 'resync'],
      ['welcome with a negative lastClientSeq', { ...wire(SAMPLE_SERVER_MESSAGES[0]), lastClientSeq: -1 }, 'lastClientSeq'],
      ['welcome with a fractional lastClientSeq', { ...wire(SAMPLE_SERVER_MESSAGES[0]), lastClientSeq: 2.5 }, 'lastClientSeq'],
      ['ack with seq 0', { type: 'ack', replyTo: 'r', accepted: [{ clientSeq: 1, seq: 0 }] }, 'accepted[0].seq'],
      ['changes without hasMore', { type: 'changes', changes: [], cursor: 0 }, 'hasMore'],
      ['error with a lower-case code', { type: 'error', code: 'oops', message: 'x' }, 'code'],
      ['command.deliver with attempt -1', { ...wire(SAMPLE_SERVER_MESSAGES[9]), attempt: -1 }, 'attempt'],
      ['command.queued with a fractional expiry', { ...wire(SAMPLE_SERVER_MESSAGES[8]), expiresAt: 1.5 }, 'expiresAt'],
      ['pong without replyTo', { type: 'pong' }, 'replyTo'],
    ];
    for (const [what, value, field] of invalid) {
      it(`refuses ${what} with PROTOCOL_INVALID_FIELD at ${field}`, () => {
        assertCode(() => parseServerMessage(value), 'PROTOCOL_INVALID_FIELD', field);
      });
    }

    it('refuses a change whose entity is not entityKeyOf(body)', () => {
      const changes = wire(SAMPLE_SERVER_MESSAGES[4]);
      changes.changes[1].entity = 'task/roo-code/someone-else';
      assertCode(() => parseServerMessage(changes), 'PROTOCOL_INVALID_FIELD', 'changes[1].entity');
    });
  });

  describe('#parseChangeBody', () => {
    for (const body of SAMPLE_BODIES) {
      it(`accepts a valid ${body.type}`, () => {
        assert.deepEqual(parseChangeBody(wire(body)), body);
      });
    }

    it('refuses an unknown change type with PROTOCOL_UNKNOWN_TYPE', () => {
      assertCode(() => parseChangeBody({ type: 'task.rename' }), 'PROTOCOL_UNKNOWN_TYPE', 'body.type');
      assertCode(() => parseChangeBody({ type: 'toString' }), 'PROTOCOL_UNKNOWN_TYPE');
    });

    const put = SAMPLE_BODIES[2]!;
    const apiPut = SAMPLE_BODIES[3]!;
    const meta = SAMPLE_BODIES[0]!;
    const file = SAMPLE_BODIES[6]!;
    const invalid: Array<[string, unknown, string, string?]> = [
      ['a ui key without occurrence', { ...put, key: '1759497617863' }, 'body.key'],
      ['a ui key with a leading zero', { ...put, key: '1759497617863:01' }, 'body.key'],
      ['a ui key past safe integers', { ...put, key: '99999999999999999:0' }, 'body.key'],
      ['an api key with an occurrence', { ...apiPut, key: '7:0' }, 'body.key'],
      ['a negative api key', { ...apiPut, key: '-1' }, 'body.key'],
      ['an upper-case hash', { ...put, hash: 'A'.repeat(64) }, 'body.hash'],
      ['a short hash', { ...put, hash: 'abc' }, 'body.hash'],
      ['a put without entry', { ...put, entry: undefined }, 'body.entry'],
      ['an unknown source', { ...put, source: 'copilot' }, 'body.source'],
      ['an unknown stream', { ...put, stream: 'log' }, 'body.stream'],
      ['a task id with a slash', { ...put, taskId: 'a/b' }, 'body.taskId'],
      ['a task id of dots', { ...put, taskId: '..' }, 'body.taskId'],
      ['a truncate key of the wrong stream', { ...SAMPLE_BODIES[5]!, afterKey: '1:0' }, 'body.afterKey'],
      ['a meta field without a clock', { ...meta, clocks: { task: '001759497617863-000000-d' } }, 'body.clocks'],
      ['a malformed clock', { ...meta, clocks: { ...meta.type === 'task.meta' && meta.clocks, task: 'yesterday' } }, 'body.clocks.task'],
      ['a file path with ..', { ...file, path: 'src/../../etc/passwd' }, 'body.path', 'PATH_TRAVERSAL'],
      ['an absolute file path', { ...file, path: '/etc/passwd' }, 'body.path', 'PATH_ABSOLUTE'],
      ['a drive-prefixed file path', { ...file, path: 'C:\\Windows\\x' }, 'body.path', 'PATH_DRIVE_PREFIX'],
      ['a file path with NUL', { ...file, path: 'a\u0000b' }, 'body.path', 'PATH_NUL'],
      ['a file path not normalised', { ...file, path: './src//app.ts' }, 'body.path', 'PATH_NOT_NORMALISED'],
      ['a negative size', { ...file, size: -1 }, 'body.size'],
      ['a fractional size', { ...file, size: 1.5 }, 'body.size'],
      ['binary as a number', { ...file, binary: 1 }, 'body.binary'],
      ['a workspace id with a backslash', { ...file, workspaceId: 'a\\b' }, 'body.workspaceId'],
    ];
    for (const [what, value, field, reason] of invalid) {
      it(`refuses ${what} with PROTOCOL_INVALID_FIELD at ${field}`, () => {
        const err = assertCode(() => parseChangeBody(wire(value)), 'PROTOCOL_INVALID_FIELD', field);
        if (reason) assert.equal(err.details?.reason, reason);
      });
    }

    it('refuses a __proto__ field in task metadata', () => {
      const body = JSON.parse(
        '{"type":"task.meta","source":"cline","taskId":"1712345678901","fields":{"__proto__":{"x":1}},"clocks":{"__proto__":"001759497617863-000000-d"}}',
      );
      assertCode(() => parseChangeBody(body), 'PROTOCOL_INVALID_FIELD', 'body.fields.__proto__');
    });
  });

  describe('#parseClientChange and #parseServerChange', () => {
    it('accept every sample change', () => {
      for (const change of SAMPLE_CLIENT_CHANGES) assert.deepEqual(parseClientChange(wire(change)), change);
      for (const change of SAMPLE_SERVER_CHANGES) assert.deepEqual(parseServerChange(wire(change)), change);
    });

    it('refuse clientSeq 0, a negative baseSeq and a missing seq', () => {
      assertCode(() => parseClientChange({ ...wire(SAMPLE_CLIENT_CHANGES[0]), clientSeq: 0 }), 'PROTOCOL_INVALID_FIELD', 'change.clientSeq');
      assertCode(() => parseClientChange({ ...wire(SAMPLE_CLIENT_CHANGES[0]), baseSeq: -1 }), 'PROTOCOL_INVALID_FIELD', 'change.baseSeq');
      const { seq: _seq, ...noSeq } = wire(SAMPLE_SERVER_CHANGES[0]);
      assertCode(() => parseServerChange(noSeq), 'PROTOCOL_INVALID_FIELD', 'change.seq');
    });
  });

  // Field paths are built only when a check fails (validate.bench.ts): these pin the strings.
  describe('field paths of errors', () => {
    const put = SAMPLE_CLIENT_CHANGES.find((c) => c.body.type === 'stream.put' && c.body.stream === 'ui')!;
    const pushOf = (bad: unknown) => ({ type: 'push', id: 'r1', changes: [...Array.from({ length: 249 }, () => wire(put)), bad] });

    it('names the change, its body and the field deep in a push', () => {
      const badHash = wire(put);
      badHash.body.hash = 'F'.repeat(64);
      const err = assertCode(() => parseClientMessage(pushOf(badHash)), 'PROTOCOL_INVALID_FIELD', 'changes[249].body.hash');
      assert.equal(err.message, 'push: changes[249].body.hash: expected sha256: 64 lowercase hex digits');
      assert.equal(err.details?.requestId, 'r1');
      const noType = wire(put);
      noType.body.type = 'stream.append';
      assertCode(() => parseClientMessage(pushOf(noType)), 'PROTOCOL_UNKNOWN_TYPE', 'changes[249].body.type');
      assertCode(() => parseClientMessage(pushOf(null)), 'PROTOCOL_INVALID_FIELD', 'changes[249]');
    });

    it('refuses a ui key part beyond the safe integers, and accepts the largest one', () => {
      const key = (k: string) => ({ ...wire(put.body), key: k });
      assertCode(() => parseChangeBody(key('9007199254740992:0')), 'PROTOCOL_INVALID_FIELD', 'body.key');
      assertCode(() => parseChangeBody(key('0:9007199254740992')), 'PROTOCOL_INVALID_FIELD', 'body.key');
      assert.equal((parseChangeBody(key('9007199254740991:9007199254740991')) as { key: string }).key, '9007199254740991:9007199254740991');
    });

    it('keeps the dot after an empty field name, as before', () => {
      assertCode(() => parseChangeBody({ ...wire(put.body), key: 'x' }, ''), 'PROTOCOL_INVALID_FIELD', '.key');
      assertCode(() => parseChangeBody({ ...wire(put.body), taskId: '..' }, ''), 'PROTOCOL_INVALID_FIELD', 'taskId');
      assertCode(() => parseClientChange({ ...wire(put), clientSeq: 0 }, ''), 'PROTOCOL_INVALID_FIELD', 'clientSeq');
      assertCode(() => parseClientChange({ ...wire(put), body: 1 }, ''), 'PROTOCOL_INVALID_FIELD', '.body');
    });

    it('returns fresh objects without unknown fields', () => {
      const change = { ...wire(put), extra: 1, body: { ...wire(put.body), extra: 2 } };
      const parsed = parseClientMessage({ type: 'push', id: 'r1', changes: [change] });
      assert.ok(parsed.type === 'push');
      assert.notEqual(parsed.changes[0], change);
      assert.notEqual(parsed.changes[0]!.body, change.body);
      assert.deepEqual(parsed.changes[0], put);
    });
  });
});
