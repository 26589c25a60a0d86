/**
 * Carries out a remote command (core/protocol/messages.ts RemoteCommand) on the assistant
 * installed in this window, through its exported extension API: Roo Code and its forks
 * (`startNewTask({text, images})`, `sendMessage`, `pressPrimaryButton`, `pressSecondaryButton`,
 * `cancelCurrentTask`, `resumeTask`) or Cline (`startNewTask(text, images)`). Failures are
 * SyncErrors with codes the sender sees in the command's `failed` result.
 */
import * as vscode from 'vscode';
import type { RemoteCommand } from '../core/protocol/messages';
import { SyncError } from '../core/errors';

/** Extensions whose API can run a remote command, in the order they are tried. */
export const ASSISTANT_EXTENSIONS: readonly { id: string; style: 'roo' | 'cline' }[] = [
  { id: 'RooVeterinaryInc.roo-cline', style: 'roo' },
  { id: 'ZooCodeOrganization.zoo-code', style: 'roo' },
  { id: 'kilocode.kilo-code', style: 'roo' },
  { id: 'saoudrizwan.claude-dev', style: 'cline' },
];

type AssistantApi = Record<string, unknown>;

interface Assistant {
  id: string;
  style: 'roo' | 'cline';
  api: AssistantApi;
}

async function findAssistant(): Promise<Assistant> {
  for (const candidate of ASSISTANT_EXTENSIONS) {
    const extension = vscode.extensions.getExtension<AssistantApi>(candidate.id);
    if (!extension) continue;
    let api: AssistantApi | undefined;
    try {
      api = await extension.activate();
    } catch (error) {
      throw new SyncError('ASSISTANT_API_FAILED', `${candidate.id} failed to activate: ${(error as Error).message}`, { extensionId: candidate.id });
    }
    if (api && typeof api === 'object') return { id: candidate.id, style: candidate.style, api };
  }
  throw new SyncError('ASSISTANT_NOT_INSTALLED', `no assistant that roo-sync can drive is installed on this device (${ASSISTANT_EXTENSIONS.map((a) => a.id).join(', ')})`);
}

async function call(assistant: Assistant, method: string, ...args: unknown[]): Promise<unknown> {
  const fn = assistant.api[method];
  if (typeof fn !== 'function') throw new SyncError('ASSISTANT_API_MISSING', `${assistant.id} has no API method ${method}`, { extensionId: assistant.id, method });
  try {
    return await (fn as (...a: unknown[]) => unknown).apply(assistant.api, args);
  } catch (error) {
    throw new SyncError('ASSISTANT_API_FAILED', `${assistant.id} ${method} failed: ${(error as Error).message}`, { extensionId: assistant.id, method });
  }
}

/** Makes `taskId` the assistant's current task when it is not (methods act on the current task). */
async function focusTask(assistant: Assistant, taskId: string | undefined): Promise<void> {
  if (!taskId) return;
  const stack = typeof assistant.api['getCurrentTaskStack'] === 'function' ? ((await call(assistant, 'getCurrentTaskStack')) as unknown) : undefined;
  if (Array.isArray(stack) && stack.at(-1) === taskId) return;
  await call(assistant, 'resumeTask', taskId);
}

/** Runs `command`; resolves to what the sender gets as the result (`{taskId}` for a start). */
export async function runRemoteCommand(command: RemoteCommand): Promise<{ taskId?: string; assistant: string }> {
  const assistant = await findAssistant();
  switch (command.kind) {
    case 'task.start': {
      const taskId = assistant.style === 'roo' ? await call(assistant, 'startNewTask', { text: command.text ?? '', images: command.images }) : await call(assistant, 'startNewTask', command.text ?? '', command.images);
      return typeof taskId === 'string' ? { taskId, assistant: assistant.id } : { assistant: assistant.id };
    }
    case 'task.message':
      await focusTask(assistant, command.taskId);
      await call(assistant, 'sendMessage', command.text ?? '', command.images);
      break;
    case 'task.approve':
      await focusTask(assistant, command.taskId);
      await call(assistant, 'pressPrimaryButton');
      break;
    case 'task.deny':
      await focusTask(assistant, command.taskId);
      await call(assistant, 'pressSecondaryButton');
      break;
    case 'task.cancel':
      await focusTask(assistant, command.taskId);
      await call(assistant, 'cancelCurrentTask');
      break;
    case 'task.resume':
      await call(assistant, 'resumeTask', command.taskId);
      break;
  }
  return command.taskId ? { taskId: command.taskId, assistant: assistant.id } : { assistant: assistant.id };
}
