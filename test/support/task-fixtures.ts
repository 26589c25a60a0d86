/**
 * Realistic, deterministic task histories for tests and benchmarks: the ClineMessages of
 * ui_messages.json, the Anthropic messages of api_conversation_history.json and the
 * HistoryItem, shaped like what Roo Code, Zoo Code, Kilo Code and Cline write (see
 * shared/reference/task-stores.md). The same seed always gives the same task, byte for byte.
 *
 * Sizes follow real tasks: most messages are small, tool messages carry whole files, diffs and
 * command output. Measured: 6,000 messages give a ui_messages.json of ~6 MB (~12 MB with
 * `legacyRequest`), so a 20 MB file takes ~20,000 messages (~10,000 with `legacyRequest`);
 * generating 6,000 messages takes well under a second.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiContentBlock, ApiMessage, ClineMessage } from '../../core/stores/messages';
import { createRng, type Rng } from './rng';

/** Which generation of task ids: `Date.now()` strings (to Jan 2025), then UUID v4, then UUID v7. */
export type TaskIdEra = 'timestamp' | 'uuid4' | 'uuid7';

export interface TaskHistoryOptions {
  seed: number;
  /** Number of ui_messages.json entries (at least 1). */
  messages: number;
  /** Task-id generation; default `uuid7`. */
  era?: TaskIdEra;
  /** Put the whole user turn in `api_req_started.text.request`, as before Roo Code v3.28. */
  legacyRequest?: boolean;
  /** Attach base64 images (to the task and to some user feedback). */
  images?: boolean;
  /** End with a `partial: true` message still being streamed. */
  partialLast?: boolean;
  /** HistoryItem shape: Roo/Zoo/Kilo (`workspace`, `mode`, ...) or Cline (`cwdOnTaskInitialization`, ...). Default `roo`. */
  historyShape?: 'roo' | 'cline';
  /** First message time; default chosen from the era. */
  startTs?: number;
}

export interface GeneratedTask {
  taskId: string;
  ui: ClineMessage[];
  api: ApiMessage[];
  historyItem: Record<string, unknown> & { id: string };
}

const DAY = 86_400_000;
/** Start of each era's window and its length, so ids look like ids of their time. */
const ERA_WINDOWS: Record<TaskIdEra, [number, number]> = {
  timestamp: [Date.UTC(2023, 5, 1), 570 * DAY],
  uuid4: [Date.UTC(2025, 0, 20), 220 * DAY],
  uuid7: [Date.UTC(2025, 8, 1), 240 * DAY],
};

/** Generates one complete task (ui messages, api messages, HistoryItem). */
export function generateTaskHistory(options: TaskHistoryOptions): GeneratedTask {
  const rng = createRng(options.seed);
  const era = options.era ?? 'uuid7';
  const [windowStart, windowLength] = ERA_WINDOWS[era];
  const createdAt = options.startTs ?? windowStart + Math.floor(rng.next() * windowLength);
  const taskId = makeTaskId(rng, era, createdAt);
  const gen = new TaskWriter(rng, createdAt + rng.int(5, 400), era, options);
  gen.run(Math.max(1, Math.floor(options.messages)));
  return {
    taskId,
    ui: gen.ui,
    api: gen.api,
    historyItem: makeHistoryItem(rng, taskId, gen, options.historyShape ?? 'roo'),
  };
}

/** A task id of the given era, created at `createdAt`. */
export function makeTaskId(rng: Rng, era: TaskIdEra, createdAt: number): string {
  if (era === 'timestamp') return String(createdAt);
  const bytes = Array.from({ length: 16 }, () => rng.int(0, 255));
  if (era === 'uuid7') {
    let ms = createdAt;
    for (let i = 5; i >= 0; i--) {
      bytes[i] = ms % 256;
      ms = Math.floor(ms / 256);
    }
    bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  } else {
    bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  }
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * One more ordinary ui message at `ts` (not the first `say: text` task message): for tests
 * that append to a task. Its kind is drawn from the usual mix.
 */
export function generateUiMessage(rng: Rng, ts: number, options: { images?: boolean } = {}): ClineMessage {
  const kind = rng.pick(['text', 'reasoning', 'api_req_started', 'tool', 'command_output', 'feedback'] as const);
  switch (kind) {
    case 'text':
      return { ts, type: 'say', say: 'text', text: prose(rng, 1, 4), partial: false };
    case 'reasoning':
      return { ts, type: 'say', say: 'reasoning', text: prose(rng, 2, 6), partial: false };
    case 'api_req_started':
      return { ts, type: 'say', say: 'api_req_started', text: JSON.stringify(apiRequestInfo(rng, null)) };
    case 'tool': {
      const path = filePath(rng);
      return { ts, type: 'ask', ask: 'tool', text: JSON.stringify({ tool: 'readFile', path, content: fileContent(rng, path) }) };
    }
    case 'command_output':
      return { ts, type: 'say', say: 'command_output', text: commandOutput(rng) };
    case 'feedback': {
      const message: ClineMessage = { ts, type: 'say', say: 'user_feedback', text: userPrompt(rng) };
      if (options.images) message.images = [imageDataUrl(rng)];
      return message;
    }
  }
}

/** One more api message (a user or assistant turn) for tests that append to a task. */
export function generateApiMessage(rng: Rng, role: 'user' | 'assistant', ts: number): ApiMessage {
  if (role === 'assistant') {
    const id = toolUseId(rng);
    const path = filePath(rng);
    return { role, content: [{ type: 'text', text: prose(rng, 1, 3) }, { type: 'tool_use', id, name: 'read_file', input: { path } }], ts };
  }
  const path = filePath(rng);
  return {
    role,
    content: [
      { type: 'tool_result', tool_use_id: toolUseId(rng), content: [{ type: 'text', text: fileContent(rng, path) }] },
      { type: 'text', text: environmentDetails(rng, ts) },
    ],
    ts,
  };
}

/**
 * The workspace a task works in. Real histories repeat themselves: a task reads, edits and
 * reads again the same files of one project, its environment details list the same folder and
 * tabs turn after turn. So files, their contents and the tabs are kept per task.
 */
class TaskWorkspace {
  readonly paths: string[];
  private readonly contents = new Map<string, string>();
  /** Most recently touched last. */
  private readonly recent: string[] = [];

  constructor(private readonly rng: Rng) {
    const files = new Set<string>();
    const count = rng.int(30, 90);
    while (files.size < count) files.add(filePath(rng));
    this.paths = [...files];
  }

  /** A file the task works on next: often one it touched lately. */
  pick(): string {
    const path = this.recent.length > 0 && this.rng.chance(0.5) ? this.rng.pick(this.recent) : this.rng.pick(this.paths);
    this.touch(path);
    return path;
  }

  /** The file's current content (the same on every read until an edit). */
  read(path: string): string {
    let content = this.contents.get(path);
    if (content === undefined) this.contents.set(path, (content = fileContent(this.rng, path)));
    return content;
  }

  /** A new file with its content. */
  create(path: string): string {
    const content = fileContent(this.rng, path);
    this.contents.set(path, content);
    if (!this.paths.includes(path)) this.paths.push(path);
    this.touch(path);
    return content;
  }

  /** An edit of a few lines; returns the search/replace diff the assistant sent. */
  edit(path: string): string {
    const lines = this.read(path).split('\n');
    const start = this.rng.int(0, Math.max(0, lines.length - 1));
    const removed = lines.slice(start, start + this.rng.int(1, 8));
    const added = removed.map((line) => (this.rng.chance(0.5) ? line : fill(this.rng, this.rng.pick(CODE_LINES['ts']!))));
    lines.splice(start, removed.length, ...added);
    this.contents.set(path, lines.join('\n'));
    return `${path}\n<<<<<<< SEARCH\n:start_line:${start + 1}\n-------\n${removed.join('\n')}\n=======\n${added.join('\n')}\n>>>>>>> REPLACE`;
  }

  visible(): string {
    return this.recent[this.recent.length - 1] ?? this.paths[0]!;
  }

  tabs(): string[] {
    return this.recent.slice(-3);
  }

  private touch(path: string): void {
    const at = this.recent.indexOf(path);
    if (at >= 0) this.recent.splice(at, 1);
    this.recent.push(path);
    if (this.recent.length > 8) this.recent.shift();
  }
}

/** Builds the two streams turn by turn, the way an assistant does while a task runs. */
class TaskWriter {
  readonly ui: ClineMessage[] = [];
  readonly api: ApiMessage[] = [];
  /** Totals of the api_req_started messages, summed in message order. */
  readonly totals = { tokensIn: 0, tokensOut: 0, cacheWrites: 0, cacheReads: 0, totalCost: 0 };
  completed = false;
  private readonly nativeTools: boolean;
  private pendingUserTurn = '';
  private readonly workspace: TaskWorkspace;

  constructor(
    private readonly rng: Rng,
    private ts: number,
    private readonly era: TaskIdEra,
    private readonly options: TaskHistoryOptions,
  ) {
    // Roo Code described tools in XML inside text until native tool calling (late 2025).
    this.nativeTools = era === 'uuid7';
    this.workspace = new TaskWorkspace(rng.fork());
  }

  run(count: number): void {
    const tailLength = count >= 4 ? 2 : count >= 2 ? 1 : 0;
    this.first();
    while (this.ui.length < count - tailLength) this.turn(count - tailLength);
    this.ui.length = Math.min(this.ui.length, count - tailLength);
    if (this.options.partialLast) {
      while (this.ui.length < count - 1) this.push({ type: 'say', say: 'text', text: prose(this.rng, 1, 2), partial: false });
      if (this.ui.length < count) {
        const text = prose(this.rng, 2, 5);
        this.push({ type: 'say', say: 'text', text: text.slice(0, Math.max(1, Math.floor(text.length / 2))), partial: true });
      }
      return;
    }
    if (tailLength === 2) {
      const result = prose(this.rng, 2, 5);
      this.push({ type: 'say', say: 'completion_result', text: result, partial: false });
      this.push({ type: 'ask', ask: 'completion_result', text: '' });
      this.completed = true;
    } else if (tailLength === 1) {
      this.push({ type: 'say', say: 'text', text: prose(this.rng, 1, 2), partial: false });
    }
  }

  private nextTs(): number {
    // Two messages in the same millisecond happen (e.g. a say and an ask written together).
    if (this.ui.length > 0 && this.rng.chance(0.03)) return this.ts;
    this.ts += this.rng.chance(0.1) ? this.rng.int(20_000, 600_000) : this.rng.int(30, 9_000);
    return this.ts;
  }

  private push(message: Omit<ClineMessage, 'ts'>): ClineMessage {
    const full = { ts: this.ui.length === 0 ? this.ts : this.nextTs(), ...message } as ClineMessage;
    this.ui.push(full);
    return full;
  }

  private first(): void {
    const rng = this.rng;
    const task = userPrompt(rng);
    // Users paste with stray whitespace; the HistoryItem's `task` is the trimmed text.
    const text = rng.chance(0.2) ? `${task}\n` : rng.chance(0.1) ? `  ${task}` : task;
    const message: ClineMessage = { ts: this.ts, type: 'say', say: 'text', text };
    const images = this.options.images ? [imageDataUrl(rng)] : undefined;
    if (images) message.images = images;
    this.ui.push(message);
    const content: ApiContentBlock[] = [{ type: 'text', text: `<task>\n${task}\n</task>` }];
    if (images) content.push(imageBlock(images[0]!));
    content.push({ type: 'text', text: environmentDetails(rng, this.ts, true, this.workspace) });
    this.api.push({ role: 'user', content, ts: this.ts });
    this.pendingUserTurn = `<task>\n${task}\n</task>`;
  }

  private turn(limit: number): void {
    const rng = this.rng;
    const info = apiRequestInfo(rng, this.options.legacyRequest ? this.pendingUserTurn : null);
    this.totals.tokensIn += info.tokensIn;
    this.totals.tokensOut += info.tokensOut;
    this.totals.cacheWrites += info.cacheWrites;
    this.totals.cacheReads += info.cacheReads;
    this.totals.totalCost += info.cost;
    this.push({ type: 'say', say: 'api_req_started', text: JSON.stringify(info) });
    if (this.ui.length >= limit) return;

    const assistant: ApiContentBlock[] = [];
    if (rng.chance(0.4)) {
      const thought = prose(rng, 2, 8);
      this.push({ type: 'say', say: 'reasoning', text: thought, partial: false });
      if (this.nativeTools) assistant.push({ type: 'thinking', thinking: thought, signature: base64(rng, 48) });
    }
    const said = prose(rng, 1, 4);
    this.push({ type: 'say', say: 'text', text: said, partial: false, conversationHistoryIndex: this.api.length });
    assistant.push({ type: 'text', text: said });

    const action = rng.pick(['read', 'read', 'edit', 'create', 'command', 'command', 'followup', 'feedback'] as const);
    const path = action === 'create' ? filePath(rng) : this.workspace.pick();
    let toolName: string;
    let input: Record<string, unknown>;
    let result: string;
    switch (action) {
      case 'read': {
        const content = this.workspace.read(path);
        this.push({ type: 'ask', ask: 'tool', text: JSON.stringify({ tool: 'readFile', path, isOutsideWorkspace: false, content: `${path}` }) });
        this.push({ type: 'say', say: 'tool', text: JSON.stringify({ tool: 'readFile', path, content }) });
        [toolName, input, result] = ['read_file', { path }, numbered(content)];
        break;
      }
      case 'edit': {
        const diff = this.workspace.edit(path);
        this.push({ type: 'ask', ask: 'tool', text: JSON.stringify({ tool: 'appliedDiff', path, diff }), isAnswered: true });
        [toolName, input, result] = ['apply_diff', { path, diff }, `Changes successfully applied to ${path}.`];
        break;
      }
      case 'create': {
        const content = this.workspace.create(path);
        this.push({ type: 'ask', ask: 'tool', text: JSON.stringify({ tool: 'newFileCreated', path, content, isProtected: false }) });
        [toolName, input, result] = ['write_to_file', { path, content, line_count: content.split('\n').length }, `The content was successfully saved to ${path}.`];
        break;
      }
      case 'command': {
        const command = rng.pick(COMMANDS);
        const output = commandOutput(rng);
        this.push({ type: 'ask', ask: 'command', text: command, isAnswered: true });
        this.push({ type: 'say', say: 'command_output', text: output });
        if (rng.chance(0.2)) this.push({ type: 'ask', ask: 'command_output', text: '' });
        [toolName, input, result] = ['execute_command', { command }, `Command executed in terminal within working directory.\nExit code: 0\nOutput:\n${output}`];
        break;
      }
      case 'followup': {
        const question = `${rng.pick(QUESTIONS)}?`;
        const suggest = [0, 1, 2].map(() => ({ answer: prose(rng, 1, 1) }));
        this.push({ type: 'ask', ask: 'followup', text: JSON.stringify({ question, suggest }), isAnswered: true });
        const answer = prose(rng, 1, 2);
        this.push({ type: 'say', say: 'user_feedback', text: answer });
        [toolName, input, result] = ['ask_followup_question', { question }, `<answer>\n${answer}\n</answer>`];
        break;
      }
      case 'feedback': {
        const text = userPrompt(rng);
        const feedback: Omit<ClineMessage, 'ts'> = { type: 'say', say: 'user_feedback', text };
        if (this.options.images && rng.chance(0.5)) feedback.images = [imageDataUrl(rng)];
        this.push(feedback);
        [toolName, input, result] = ['attempt_completion', { result: said }, `<feedback>\n${text}\n</feedback>`];
        break;
      }
    }
    if (rng.chance(0.15)) this.push({ type: 'say', say: 'checkpoint_saved', text: hex(rng, 40), checkpoint: { isFirst: false, from: hex(rng, 40), to: hex(rng, 40) } });
    if (rng.chance(0.03)) this.push({ type: 'say', say: 'error', text: `Roo tried to use ${toolName} without value for required parameter 'path'. Retrying...` });
    if (rng.chance(0.02)) {
      // A resumed task: the resume asks do not move the HistoryItem's ts.
      this.push({ type: 'ask', ask: rng.chance(0.5) ? 'resume_task' : 'resume_completed_task' });
    }

    const id = toolUseId(rng);
    if (this.nativeTools) {
      assistant.push({ type: 'tool_use', id, name: toolName, input });
      this.api.push({ role: 'assistant', content: assistant, ts: this.ts });
      this.api.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: [{ type: 'text', text: result }] }, { type: 'text', text: environmentDetails(rng, this.ts, false, this.workspace) }], ts: this.ts });
    } else {
      const xml = Object.entries(input).map(([k, v]) => `<${k}>${typeof v === 'string' ? v : JSON.stringify(v)}</${k}>`).join('\n');
      assistant.push({ type: 'text', text: `<${toolName}>\n${xml}\n</${toolName}>` });
      this.api.push({ role: 'assistant', content: assistant, ts: this.ts });
      this.api.push({ role: 'user', content: [{ type: 'text', text: `[${toolName} for '${path}'] Result:` }, { type: 'text', text: result }, { type: 'text', text: environmentDetails(rng, this.ts, false, this.workspace) }], ts: this.ts });
    }
    this.pendingUserTurn = result;
  }
}

function makeHistoryItem(rng: Rng, taskId: string, gen: TaskWriter, shape: 'roo' | 'cline'): GeneratedTask['historyItem'] {
  const first = gen.ui[0]!;
  let ts = first.ts;
  for (let i = gen.ui.length - 1; i >= 0; i--) {
    const m = gen.ui[i]!;
    if (m.ask !== 'resume_task' && m.ask !== 'resume_completed_task') {
      ts = m.ts;
      break;
    }
  }
  const size = Buffer.byteLength(JSON.stringify(gen.ui)) + Buffer.byteLength(JSON.stringify(gen.api));
  const project = rng.pick(PROJECTS);
  const common = {
    id: taskId,
    ts,
    task: (first.text ?? '').trim(),
    tokensIn: gen.totals.tokensIn,
    tokensOut: gen.totals.tokensOut,
    cacheWrites: gen.totals.cacheWrites,
    cacheReads: gen.totals.cacheReads,
    totalCost: gen.totals.totalCost,
    size,
  };
  if (shape === 'cline') {
    return { ...common, cwdOnTaskInitialization: `/home/dev/src/${project}`, modelId: rng.pick(MODELS), isFavorited: rng.chance(0.1) };
  }
  const item: GeneratedTask['historyItem'] = {
    ...common,
    number: rng.int(1, 400),
    workspace: `/home/dev/src/${project}`,
    mode: rng.pick(['code', 'code', 'architect', 'ask', 'debug', 'orchestrator']),
    apiConfigName: rng.pick(['default', 'claude', 'openrouter-fast']),
    status: gen.completed ? 'completed' : 'active',
  };
  // Older data carries fields no longer defined; they must pass through.
  if (rng.chance(0.15)) item['legacyDiffStrategy'] = 'unified';
  return item;
}

// ---- content pieces -------------------------------------------------------------------------

const WORDS = [
  'the', 'config', 'parser', 'returns', 'value', 'when', 'cache', 'is', 'stale', 'and', 'we', 'should', 'check',
  'handler', 'request', 'response', 'user', 'session', 'token', 'before', 'after', 'test', 'fails', 'because',
  'missing', 'import', 'function', 'module', 'file', 'update', 'schema', 'migration', 'index', 'query', 'error',
  'retry', 'timeout', 'listener', 'state', 'render', 'component', 'props', 'hook', 'effect', 'async', 'await',
];
const IDENTS = ['user', 'session', 'config', 'item', 'entry', 'result', 'cache', 'options', 'payload', 'row', 'node', 'index', 'count', 'value', 'handler', 'store', 'client', 'task', 'message', 'event'];
const PROJECTS = ['webshop', 'api-gateway', 'ml-pipeline', 'dotfiles', 'roo-sync', 'billing-service', 'mobile-app', 'docs-site'];
const MODELS = ['claude-sonnet-4-5', 'claude-opus-4-1', 'gpt-5', 'gemini-2.5-pro', 'deepseek-chat'];
const DIRS = ['src', 'src/lib', 'src/components', 'src/server', 'test', 'scripts', 'docs', 'packages/core/src'];
const EXTS = ['ts', 'ts', 'tsx', 'js', 'py', 'md', 'json', 'go'];
const COMMANDS = ['npm test', 'npm run build', 'git status', 'pytest -q', 'go test ./...', 'npx tsc --noEmit', 'ls -la src', 'cargo check'];
const QUESTIONS = ['Which database should the migration target', 'Should I keep the old API for compatibility', 'Do you want tests for the edge cases too', 'Where should the new config live'];
const PROMPTS = [
  'Fix the failing test in {path} and explain what went wrong',
  'Add pagination to the list endpoint in {path}',
  'Refactor {path} so that the {ident} handling is in its own module',
  'Write unit tests for {path}, cover the error paths',
  'Why does {path} throw "Cannot read properties of undefined (reading \'{ident}\')"?',
  'Migrate {path} from callbacks to async/await',
  'Review {path} for security problems',
  'Implement a retry with exponential backoff for the {ident} client in {path}',
];
const CODE_LINES: Record<string, string[]> = {
  ts: [
    'export function {a}({b}: {C}): {C} {', '  const {a} = await {b}.get({c});', '  if (!{a}) return null;', '  return { ...{a}, {b}: {c} };', '}',
    'import { {C} } from \'./{a}\';', 'export interface {C} {', '  {a}: string;', '  {b}?: number;', '};', '// {w} {w} {w} {w}',
    '  for (const {a} of {b}s) {', '    {c}.push({a});', '  }', '  throw new Error(`{w} {w}: ${{a}}`);', '',
  ],
  py: ['def {a}({b}, {c}=None):', '    """{w} {w} {w}."""', '    if {b} is None:', '        return {c}', '    for {a} in {b}:', '        yield {a}', 'import {a}', 'class {C}:', '    {a} = {b}.get("{c}")', ''],
  go: ['func {C}({a} *{C}) error {', '\tif {a} == nil {', '\t\treturn fmt.Errorf("{w} {w}")', '\t}', '\treturn nil', '}', '\t{a} := {b}.{C}()', ''],
  md: ['# {C}', '', '{w} {w} {w} {w} {w} {w} {w}.', '- {w} {w} `{a}`', '```ts', '{a}.{b}({c})', '```'],
  json: ['{', '  "{a}": "{w}",', '  "{b}": {n},', '  "{c}": [{n}, {n}],', '}'],
};

function prose(rng: Rng, minSentences: number, maxSentences: number): string {
  const out: string[] = [];
  const n = rng.int(minSentences, maxSentences);
  for (let s = 0; s < n; s++) {
    const len = rng.int(6, 22);
    const words: string[] = [];
    for (let i = 0; i < len; i++) words.push(rng.pick(WORDS));
    const sentence = words.join(' ');
    out.push(sentence[0]!.toUpperCase() + sentence.slice(1) + (rng.chance(0.2) ? ` in \`${rng.pick(IDENTS)}\`.` : '.'));
  }
  return out.join(' ');
}

function userPrompt(rng: Rng): string {
  return rng.pick(PROMPTS).replace('{path}', filePath(rng)).replace('{ident}', rng.pick(IDENTS));
}

function filePath(rng: Rng): string {
  return `${rng.pick(DIRS)}/${rng.pick(IDENTS)}${rng.chance(0.4) ? `-${rng.pick(IDENTS)}` : ''}.${rng.pick(EXTS)}`;
}

function fill(rng: Rng, template: string): string {
  return template.replace(/\{(a|b|c|C|w|n)\}/g, (_m, k: string) => {
    if (k === 'w') return rng.pick(WORDS);
    if (k === 'n') return String(rng.int(0, 9999));
    const id = rng.pick(IDENTS);
    return k === 'C' ? id[0]!.toUpperCase() + id.slice(1) : id;
  });
}

/** A source file of 20-220 lines in the language of `path`. */
function fileContent(rng: Rng, path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1);
  const lines = CODE_LINES[ext === 'tsx' || ext === 'js' ? 'ts' : ext] ?? CODE_LINES['ts']!;
  const n = rng.chance(0.1) ? rng.int(300, 1200) : rng.int(30, 260);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(fill(rng, rng.pick(lines)));
  return out.join('\n');
}

function numbered(content: string): string {
  return content.split('\n').map((line, i) => `${i + 1} | ${line}`).join('\n');
}

function commandOutput(rng: Rng): string {
  const out: string[] = [];
  const n = rng.chance(0.1) ? rng.int(100, 400) : rng.int(3, 40);
  for (let i = 0; i < n; i++) {
    out.push(rng.chance(0.7) ? `  ${rng.chance(0.9) ? '✔' : '✖'} ${prose(rng, 1, 1)} (${rng.int(1, 900)}ms)` : `${filePath(rng)}:${rng.int(1, 400)}:${rng.int(1, 80)} - ${prose(rng, 1, 1)}`);
  }
  return out.join('\n');
}

function environmentDetails(rng: Rng, ts: number, withFiles = false, workspace?: TaskWorkspace): string {
  const visible = workspace ? workspace.visible() : filePath(rng);
  const tabs = workspace ? workspace.tabs() : [0, 1, 2].map(() => filePath(rng));
  const lines = ['<environment_details>', '# VSCode Visible Files', visible, '', '# VSCode Open Tabs', tabs.join(','), '', `# Current Time\n${new Date(ts).toISOString()}`, '', `# Current Cost\n$${(rng.next() * 3).toFixed(2)}`, '', '# Current Mode', '<slug>code</slug>'];
  if (withFiles) {
    lines.push('', '# Current Workspace Directory Files');
    if (workspace) lines.push(...workspace.paths);
    else for (let i = rng.int(20, 120); i > 0; i--) lines.push(filePath(rng));
  }
  lines.push('</environment_details>');
  return lines.join('\n');
}

function apiRequestInfo(rng: Rng, request: string | null) {
  const tokensIn = rng.int(3, 400);
  const tokensOut = rng.int(40, 4000);
  const cacheWrites = rng.chance(0.5) ? rng.int(200, 30_000) : 0;
  const cacheReads = rng.int(0, 120_000);
  const cost = Math.round((tokensIn * 3e-6 + tokensOut * 15e-6 + cacheWrites * 3.75e-6 + cacheReads * 0.3e-6) * 1e8) / 1e8;
  const info: { apiProtocol: string; tokensIn: number; tokensOut: number; cacheWrites: number; cacheReads: number; cost: number; request?: string } = {
    apiProtocol: 'anthropic',
    tokensIn,
    tokensOut,
    cacheWrites,
    cacheReads,
    cost,
  };
  if (request !== null) return { request, ...info };
  return info;
}

function hex(rng: Rng, length: number): string {
  let s = '';
  while (s.length < length) s += rng.int(0, 0xffff).toString(16).padStart(4, '0');
  return s.slice(0, length);
}

function toolUseId(rng: Rng): string {
  return `toolu_01${base64(rng, 18).replace(/[+/=]/g, 'x')}`;
}

function base64(rng: Rng, bytes: number): string {
  const buf = Buffer.allocUnsafe(bytes);
  for (let i = 0; i < bytes; i += 4) {
    const v = rng.int(0, 0xffffffff);
    for (let j = 0; j < 4 && i + j < bytes; j++) buf[i + j] = (v >>> (8 * j)) & 0xff;
  }
  return buf.toString('base64');
}

/** A PNG-looking data URL of 4-40 KB. */
function imageDataUrl(rng: Rng): string {
  const header = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).toString('base64');
  return `data:image/png;base64,${header}${base64(rng, rng.int(4_000, 40_000))}`;
}

function imageBlock(dataUrl: string): ApiContentBlock {
  const comma = dataUrl.indexOf(',');
  const mediaType = dataUrl.slice(5, dataUrl.indexOf(';'));
  return { type: 'image', source: { type: 'base64', media_type: mediaType, data: dataUrl.slice(comma + 1) } };
}

export interface FixtureStoreOptions {
  /** Write the index (`tasks/_index.json` or Cline's `state/taskHistory.json`). Default true. */
  index?: boolean;
  /** Roo layout: write `history_item.json` in each folder (v3.49+). Default true. */
  historyItemFiles?: boolean;
  /** Save the api history under the legacy name `claude_messages.json`. Default false. */
  legacyApiName?: boolean;
}

/**
 * Writes generated tasks as an assistant would have left them in the store at `basePath`
 * (`roo`: Roo Code / Zoo Code / Kilo Code; `cline`: Cline's classic layout), without going
 * through FsTaskStore, so tests read real-shaped stores. Compact JSON, like the assistants.
 */
export async function writeFixtureStore(basePath: string, layout: 'roo' | 'cline', tasks: readonly GeneratedTask[], options: FixtureStoreOptions = {}): Promise<void> {
  const tasksDir = join(basePath, 'tasks');
  await mkdir(tasksDir, { recursive: true });
  for (const task of tasks) {
    const dir = join(tasksDir, task.taskId);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'ui_messages.json'), JSON.stringify(task.ui));
    await writeFile(join(dir, options.legacyApiName ? 'claude_messages.json' : 'api_conversation_history.json'), JSON.stringify(task.api));
    if (layout === 'roo' && (options.historyItemFiles ?? true)) await writeFile(join(dir, 'history_item.json'), JSON.stringify(task.historyItem));
  }
  if (options.index === false) return;
  if (layout === 'roo') {
    const entries = tasks.map((t) => t.historyItem).sort((a, b) => Number(b['ts']) - Number(a['ts']));
    await writeFile(join(tasksDir, '_index.json'), JSON.stringify({ version: 1, updatedAt: Date.UTC(2026, 0, 1), entries }));
  } else {
    await mkdir(join(basePath, 'state'), { recursive: true });
    await writeFile(join(basePath, 'state', 'taskHistory.json'), JSON.stringify(tasks.map((t) => t.historyItem)));
  }
}
