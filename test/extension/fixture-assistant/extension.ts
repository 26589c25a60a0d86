/**
 * TEST FIXTURE standing in for Roo Code (see README.md). Its exported API has Roo Code's method
 * names; each call appends scripted messages to the current task and rewrites the task's files
 * from memory, as Roo Code does (so a message another device added meanwhile is missing from the
 * rewrite: the stale rewrite roo-sync must repair). `fixture` adds test-only helpers.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { readJson, writeJsonLikeRoo } from './task-files';

export interface FixtureMessage {
  ts: number;
  type: 'ask' | 'say';
  ask?: string;
  say?: string;
  text?: string;
  partial?: boolean;
  isAnswered?: boolean;
}

interface ApiMessage {
  role: 'user' | 'assistant';
  content: string;
  ts: number;
}

export interface FixtureHistoryItem {
  id: string;
  number: number;
  ts: number;
  task: string;
  tokensIn: number;
  tokensOut: number;
  totalCost: number;
  size?: number;
  workspace?: string;
  mode?: string;
  status?: string;
  [field: string]: unknown;
}

/** One call made to the API, for tests that check a remote command arrived. */
export interface FixtureCall {
  method: string;
  args: unknown[];
  at: number;
}

interface OpenTask {
  id: string;
  number: number;
  ui: FixtureMessage[];
  api: ApiMessage[];
}

class FixtureAssistant {
  readonly calls: FixtureCall[] = [];
  private current: OpenTask | undefined;
  private lastTs = 0;
  /** Serialises writes as Roo Code's per-task queue does. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly basePath: string) {}

  private nextTs(): number {
    this.lastTs = Math.max(Date.now(), this.lastTs + 1);
    return this.lastTs;
  }

  private note(method: string, args: unknown[]): void {
    this.calls.push({ method, args, at: Date.now() });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private taskDir(id: string): string {
    return join(this.basePath, 'tasks', id);
  }

  private say(say: string, text: string): FixtureMessage {
    return { ts: this.nextTs(), type: 'say', say, text };
  }

  /** Rewrites every file of the current task and the index from memory. */
  private async persist(task: OpenTask): Promise<void> {
    const dir = this.taskDir(task.id);
    await writeJsonLikeRoo(join(dir, 'api_conversation_history.json'), task.api);
    await writeJsonLikeRoo(join(dir, 'ui_messages.json'), task.ui);
    const item = historyItemOf(task, vscode.workspace.workspaceFolders?.[0]?.uri.fsPath);
    await writeJsonLikeRoo(join(dir, 'history_item.json'), item);
    const indexPath = join(this.basePath, 'tasks', '_index.json');
    const index = await readJson<{ version: number; updatedAt: number; entries: FixtureHistoryItem[] }>(indexPath, { version: 1, updatedAt: 0, entries: [] });
    const entries = [item, ...index.entries.filter((e) => e.id !== item.id)].sort((a, b) => b.ts - a.ts);
    await writeJsonLikeRoo(indexPath, { version: 1, updatedAt: Date.now(), entries });
  }

  private reply(task: OpenTask, userText: string): void {
    task.ui.push(this.say('api_req_started', JSON.stringify({ apiProtocol: 'anthropic', tokensIn: 10, tokensOut: 20, cacheWrites: 0, cacheReads: 0, cost: 0.001 })));
    const answer = `Fixture reply to: ${userText}`;
    task.ui.push(this.say('text', answer));
    task.ui.push({ ts: this.nextTs(), type: 'ask', ask: 'followup', text: 'Anything else?' });
    task.api.push({ role: 'assistant', content: answer, ts: this.lastTs });
  }

  startNewTask(options: { text?: string; images?: string[]; configuration?: unknown; newTab?: boolean } = {}): Promise<string> {
    this.note('startNewTask', [options]);
    return this.serial(async () => {
      const text = options.text ?? '';
      const number = (await this.history()).length + 1;
      const task: OpenTask = { id: randomUUID(), number, ui: [], api: [] };
      task.ui.push(this.say('text', text));
      task.api.push({ role: 'user', content: `<task>\n${text}\n</task>`, ts: this.lastTs });
      this.reply(task, text);
      this.current = task;
      await this.persist(task);
      return task.id;
    });
  }

  sendMessage(text?: string, images?: string[]): Promise<void> {
    this.note('sendMessage', [text, images]);
    return this.serial(async () => {
      const task = this.requireTask('sendMessage');
      task.ui.push(this.say('user_feedback', text ?? ''));
      task.api.push({ role: 'user', content: text ?? '', ts: this.lastTs });
      this.reply(task, text ?? '');
      await this.persist(task);
    });
  }

  private answer(method: string, approved: boolean): Promise<void> {
    this.note(method, []);
    return this.serial(async () => {
      const task = this.requireTask(method);
      const last = task.ui.at(-1);
      if (last?.type === 'ask') last.isAnswered = true;
      task.ui.push(this.say('text', approved ? 'Approved' : 'Denied'));
      await this.persist(task);
    });
  }

  pressPrimaryButton(): Promise<void> {
    return this.answer('pressPrimaryButton', true);
  }

  pressSecondaryButton(): Promise<void> {
    return this.answer('pressSecondaryButton', false);
  }

  cancelCurrentTask(): Promise<void> {
    this.note('cancelCurrentTask', []);
    return this.serial(async () => {
      const task = this.requireTask('cancelCurrentTask');
      task.ui.push({ ts: this.nextTs(), type: 'ask', ask: 'resume_task' });
      await this.persist(task);
      this.current = undefined;
    });
  }

  resumeTask(taskId: string): Promise<void> {
    this.note('resumeTask', [taskId]);
    return this.serial(async () => {
      const dir = this.taskDir(taskId);
      const ui = await readJson<FixtureMessage[] | null>(join(dir, 'ui_messages.json'), null);
      if (!ui) throw new Error(`fixture: no task ${taskId}`);
      const api = await readJson<ApiMessage[]>(join(dir, 'api_conversation_history.json'), []);
      const item = await readJson<FixtureHistoryItem | null>(join(dir, 'history_item.json'), null);
      this.lastTs = Math.max(this.lastTs, ...ui.map((m) => m.ts));
      this.current = { id: taskId, number: item?.number ?? 0, ui, api };
    });
  }

  getCurrentTaskStack(): string[] {
    return this.current ? [this.current.id] : [];
  }

  private requireTask(method: string): OpenTask {
    if (!this.current) throw new Error(`fixture: ${method} with no current task`);
    return this.current;
  }

  /** The task list as Roo Code rebuilds it from the folders (history_item.json), newest first. */
  async history(): Promise<FixtureHistoryItem[]> {
    let names: string[];
    try {
      names = await readdir(join(this.basePath, 'tasks'));
    } catch {
      return [];
    }
    const items: FixtureHistoryItem[] = [];
    for (const name of names) {
      if (name.startsWith('_') || name.startsWith('.')) continue;
      const item = await readJson<FixtureHistoryItem | null>(join(this.taskDir(name), 'history_item.json'), null);
      if (item) items.push(item);
    }
    return items.sort((a, b) => b.ts - a.ts);
  }

  /** A task's ui messages as on disk. */
  readMessages(taskId: string): Promise<FixtureMessage[]> {
    return readJson<FixtureMessage[]>(join(this.taskDir(taskId), 'ui_messages.json'), []);
  }

  /** Appends one `say text` message to the current task (one whole-file rewrite), for benchmarks. */
  appendText(text: string): Promise<FixtureMessage> {
    return this.serial(async () => {
      const task = this.requireTask('appendText');
      const message = this.say('text', text);
      task.ui.push(message);
      await this.persist(task);
      return message;
    });
  }
}

function historyItemOf(task: OpenTask, workspace: string | undefined): FixtureHistoryItem {
  let tokensIn = 0;
  let tokensOut = 0;
  let totalCost = 0;
  for (const m of task.ui) {
    if (m.say !== 'api_req_started' || !m.text) continue;
    const info = JSON.parse(m.text) as { tokensIn?: number; tokensOut?: number; cost?: number };
    tokensIn += info.tokensIn ?? 0;
    tokensOut += info.tokensOut ?? 0;
    totalCost += info.cost ?? 0;
  }
  const last = [...task.ui].reverse().find((m) => m.ask !== 'resume_task' && m.ask !== 'resume_completed_task');
  return {
    id: task.id,
    number: task.number,
    ts: last?.ts ?? task.ui[0]!.ts,
    task: (task.ui[0]?.text ?? '').trim(),
    tokensIn,
    tokensOut,
    totalCost,
    ...(workspace ? { workspace } : {}),
    mode: 'code',
  };
}

export async function activate(context: vscode.ExtensionContext) {
  const custom = vscode.workspace.getConfiguration('roo-cline').get<string>('customStoragePath', '').trim();
  const assistant = new FixtureAssistant(custom || context.globalStorageUri.fsPath);
  // Roo Code creates its storage folders when it starts.
  await mkdir(join(assistant.basePath, 'tasks'), { recursive: true });
  return {
    startNewTask: (options?: { text?: string; images?: string[] }) => assistant.startNewTask(options),
    sendMessage: (text?: string, images?: string[]) => assistant.sendMessage(text, images),
    pressPrimaryButton: () => assistant.pressPrimaryButton(),
    pressSecondaryButton: () => assistant.pressSecondaryButton(),
    cancelCurrentTask: () => assistant.cancelCurrentTask(),
    resumeTask: (taskId: string) => assistant.resumeTask(taskId),
    getCurrentTaskStack: () => assistant.getCurrentTaskStack(),
    /** Test-only helpers; Roo Code has none of these. */
    fixture: {
      isFixture: true as const,
      basePath: assistant.basePath,
      calls: assistant.calls,
      history: () => assistant.history(),
      readMessages: (taskId: string) => assistant.readMessages(taskId),
      appendText: (text: string) => assistant.appendText(text),
    },
  };
}

export type FixtureAssistantApi = Awaited<ReturnType<typeof activate>>;

export function deactivate(): void {}
