/**
 * Message bodies of realistic size and texture for the latency and Syncthing benches
 * (shared/reference/task-stores.md: real tasks hold hundreds of messages and several MB). The
 * text is code- and prose-like (it compresses about as well as real chat logs, not like random
 * bytes), seeded, so every run writes the same bytes.
 *
 * Sizes, per appended message (one ui entry and one api entry, as AssistantWorkload writes):
 * the ui text is 0.3-3 KiB (a reply, a tool ask with a diff, command output), the api entry
 * 1-12 KiB (the assistant turn or a tool_result carrying file contents). About 1.5 KiB + 6 KiB
 * on average, so a task of 400 messages is about 0.6 MB of ui_messages.json and 2.4 MB of
 * api_conversation_history.json.
 */
import { createRng, type Rng } from './rng';

const WORDS = [
  'const', 'function', 'return', 'await', 'import', 'export', 'interface', 'string', 'number', 'async', 'the', 'file', 'task',
  'message', 'sync', 'device', 'relay', 'change', 'state', 'store', 'entry', 'cursor', 'write', 'read', 'lock', 'folder',
  'error', 'code', 'test', 'should', 'when', 'then', 'value', 'index', 'path', 'json', 'update', 'apply', 'queue', 'push',
  'pull', 'hash', 'content', 'result', 'options', 'config', 'user', 'window', 'editor', 'line', 'column', 'range', 'null',
];

/** `bytes` of code-like text from `rng`. */
export function filler(rng: Rng, bytes: number): string {
  const parts: string[] = [];
  let length = 0;
  while (length < bytes) {
    const line = Array.from({ length: rng.int(4, 12) }, () => rng.pick(WORDS)).join(rng.chance(0.3) ? '.' : ' ');
    const indent = '  '.repeat(rng.int(0, 3));
    const text = `${indent}${line}${rng.chance(0.4) ? ';' : ''}\n`;
    parts.push(text);
    length += text.length;
  }
  return parts.join('').slice(0, bytes);
}

/** Payloads for one writer: `ui(n)` and `api(n)` are the extra text of its n-th message. */
export interface MessagePayloads {
  ui(n: number): string;
  api(n: number): string;
}

/** Realistic payloads (sizes above), the same for the same seed and n. */
export function realisticPayloads(seed: number): MessagePayloads {
  return {
    ui: (n) => {
      const rng = createRng(seed * 1_000_003 + n * 2 + 1);
      return filler(rng, rng.int(300, 3 * 1024));
    },
    api: (n) => {
      const rng = createRng(seed * 1_000_003 + n * 2 + 2);
      return filler(rng, rng.int(1024, 12 * 1024));
    },
  };
}
