/**
 * The assistant's side of a fault scenario: an assistant on one machine that appends messages to
 * tasks the way Roo Code does (every message rewrites `ui_messages.json`,
 * `api_conversation_history.json` and `history_item.json` whole, from its own memory, through a
 * temp file and a rename, under the file's `.lock` folder). Every message text is unique and recorded, so the checker can say
 * afterwards which were lost or duplicated on any device. ui timestamps are unique per writer
 * (`ts = base + n * writers + writerIndex`), so two machines never write the same ui key.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { withFileLock } from '../../core/node/stores/file-lock';
import type { MessagePayloads } from './realistic-messages';

interface TaskMemory {
  ui: Array<Record<string, unknown>>;
  api: Array<Record<string, unknown>>;
  historyItem: Record<string, unknown>;
}

export const TS_BASE = 1_780_000_000_000;

export class AssistantWorkload {
  private readonly tasks = new Map<string, TaskMemory>();
  private seq = 0;
  /** Every message text this assistant wrote, by task. */
  readonly made = new Map<string, string[]>();

  constructor(
    readonly storePath: string,
    readonly writer: string,
    private readonly writerIndex: number,
    private readonly writers: number,
    /** Extra text of each message (realistic-messages.ts); none by default (a few bytes each). */
    private readonly payloads?: MessagePayloads,
  ) {}

  /**
   * What to look for in a raw ui_messages.json to find the message whose text starts with
   * `text` (the marker append returns): its JSON string, closed or followed by the payload.
   */
  needle(text: string): string {
    return this.payloads ? `${JSON.stringify(text).slice(0, -1)}\\n` : JSON.stringify(text);
  }

  /** Total messages written. */
  get count(): number {
    return this.seq;
  }

  /** Loads a task from disk into memory (what the assistant does when the user opens it). */
  async open(taskId: string): Promise<void> {
    const folder = join(this.storePath, 'tasks', taskId);
    const read = async (name: string): Promise<unknown> => JSON.parse(await readFile(join(folder, name), 'utf8'));
    this.tasks.set(taskId, {
      ui: (await read('ui_messages.json')) as TaskMemory['ui'],
      api: (await read('api_conversation_history.json')) as TaskMemory['api'],
      historyItem: (await read('history_item.json')) as TaskMemory['historyItem'],
    });
  }

  /** Appends one message (new task when unknown) and rewrites the task's files. */
  async append(taskId: string): Promise<string> {
    return (await this.appendMany(taskId, 1))[0]!;
  }

  /**
   * Appends `count` messages to a task with one rewrite of its files (seeding a store with
   * history); returns their texts.
   */
  async appendMany(taskId: string, count: number): Promise<string[]> {
    let task = this.tasks.get(taskId);
    const texts: string[] = [];
    for (let i = 0; i < count; i++) {
      const n = this.seq++;
      const ts = TS_BASE + n * this.writers + this.writerIndex;
      const text = `fx|${this.writer}|${taskId}|${n}`;
      if (!task) {
        task = { ui: [], api: [], historyItem: { id: taskId, number: 1, ts, task: text, tokensIn: 0, tokensOut: 0, totalCost: 0, workspace: '/work/project', mode: 'code' } };
        this.tasks.set(taskId, task);
      }
      const uiText = this.payloads ? `${text}\n${this.payloads.ui(n)}` : text;
      const apiText = this.payloads ? `${text}\n${this.payloads.api(n)}` : text;
      task.ui.push({ ts, type: 'say', say: 'text', text: uiText });
      task.api.push({ role: task.api.length % 2 === 0 ? 'user' : 'assistant', content: [{ type: 'text', text: apiText }], ts });
      task.historyItem = { ...task.historyItem, tokensIn: Number(task.historyItem.tokensIn) + 10, tokensOut: Number(task.historyItem.tokensOut) + 20 };
      texts.push(text);
    }
    if (!task) return texts;
    const folder = join(this.storePath, 'tasks', taskId);
    await mkdir(folder, { recursive: true });
    for (const [name, value] of [['api_conversation_history.json', task.api], ['ui_messages.json', task.ui], ['history_item.json', task.historyItem]] as const) {
      // Under the file's `.lock` folder, as Roo Code writes (the device honours the same lock).
      await withFileLock(join(folder, name), { waitMs: 60_000 }, async () => {
        const temp = join(folder, `.${name}.new_${Date.now()}_${Math.random().toString(16).slice(2, 10)}.tmp`);
        await writeFile(temp, JSON.stringify(value));
        await rename(temp, join(folder, name));
      });
    }
    let list = this.made.get(taskId);
    if (!list) this.made.set(taskId, (list = []));
    list.push(...texts);
    return texts;
  }
}
