/**
 * How the page shows one ui message (an entry of ui_messages.json, the assistant's ClineMessage):
 * a pure mapping from the message to a view item, close to what the assistant's own chat shows.
 * Every string in a message is untrusted (it may hold what the assistant read from the web or a
 * file): items carry text, and only the `markdown` kind is turned into HTML, by the sanitising
 * renderer (render/markdown.ts).
 */

export interface UiMessage {
  ts: number;
  type: 'ask' | 'say' | string;
  ask?: string;
  say?: string;
  text?: string;
  images?: unknown[];
  partial?: boolean;
  reasoning?: string;
}

export type ViewItem =
  | { kind: 'task'; text: string }
  | { kind: 'markdown'; text: string; label?: string }
  | { kind: 'user'; text: string }
  | { kind: 'reasoning'; text: string }
  | { kind: 'request'; cost?: number; tokensIn?: number; tokensOut?: number; cacheReads?: number; cancelled?: string }
  | { kind: 'tool'; title: string; body: string }
  | { kind: 'command'; command: string }
  | { kind: 'output'; text: string }
  | { kind: 'question'; text: string; suggestions: string[] }
  | { kind: 'completion'; text: string }
  | { kind: 'error'; title: string; text: string }
  | { kind: 'note'; text: string }
  | { kind: 'hidden' };

/** Longest text shown in a block before it is cut (the rest is one tap away in a later version). */
export const BLOCK_TEXT_LIMIT = 20_000;

/** Asks that wait for the user (approve / deny or an answer). */
const WAITING_ASKS = new Set(['tool', 'command', 'followup', 'use_mcp_server', 'api_req_failed', 'mistake_limit_reached', 'browser_action_launch', 'resume_task', 'resume_completed_task', 'completion_result', 'command_output']);

export function isUiMessage(value: unknown): value is UiMessage {
  return typeof value === 'object' && value !== null && typeof (value as UiMessage).ts === 'number' && typeof (value as UiMessage).type === 'string';
}

/** The view item of `message`, the `index`-th message of its task. */
export function viewOf(message: UiMessage, index: number): ViewItem {
  const text = typeof message.text === 'string' ? message.text : '';
  if (index === 0 && message.type === 'say' && (message.say === 'text' || message.say === undefined)) return { kind: 'task', text };
  const what = message.type === 'ask' ? message.ask : message.say;
  switch (what) {
    case 'text':
      return text ? { kind: 'markdown', text } : { kind: 'hidden' };
    case 'user_feedback':
    case 'user_feedback_diff':
      return { kind: 'user', text };
    case 'reasoning':
      return { kind: 'reasoning', text: text || message.reasoning || '' };
    case 'api_req_started':
      return requestItem(text);
    case 'api_req_finished':
    case 'api_req_retried':
    case 'api_req_deleted':
    case 'checkpoint_saved':
    case 'condense_context':
    case 'shell_integration_warning':
      return what === 'checkpoint_saved' ? { kind: 'note', text: 'Checkpoint saved' } : { kind: 'hidden' };
    case 'completion_result':
      return text ? { kind: 'completion', text } : { kind: 'hidden' };
    case 'error':
    case 'api_req_failed':
    case 'mistake_limit_reached':
    case 'diff_error':
    case 'rooignore_error':
      return { kind: 'error', title: what === 'api_req_failed' ? 'API request failed' : what === 'mistake_limit_reached' ? 'Mistake limit reached' : 'Error', text };
    case 'tool':
      return toolItem(text);
    case 'command':
      return { kind: 'command', command: text };
    case 'command_output':
      return { kind: 'output', text: cut(text) };
    case 'followup':
      return questionItem(text);
    case 'use_mcp_server':
    case 'mcp_server_response':
      return { kind: 'tool', title: what === 'use_mcp_server' ? 'MCP server' : 'MCP response', body: cut(pretty(text)) };
    case 'resume_task':
    case 'resume_completed_task':
      return { kind: 'note', text: what === 'resume_task' ? 'Task paused: resume it from the assistant' : 'Task completed earlier' };
    case 'subtask_result':
      return { kind: 'markdown', text, label: 'Subtask result' };
    default:
      if (message.reasoning) return { kind: 'reasoning', text: message.reasoning };
      return text ? { kind: 'markdown', text, label: what } : { kind: 'hidden' };
  }
}

/** The images of a message that may be shown: data URLs of raster images only. */
export function imagesOf(message: UiMessage): string[] {
  return (message.images ?? []).filter((src): src is string => typeof src === 'string' && /^data:image\/(png|jpe?g|gif|webp);base64,[a-z0-9+/=\s]+$/i.test(src));
}

/** True when the task's last message is an ask waiting for the user (approve / deny / answer). */
export function waitingAsk(messages: readonly UiMessage[]): string | undefined {
  const last = messages[messages.length - 1];
  if (!last || last.type !== 'ask' || last.partial || !last.ask) return undefined;
  return WAITING_ASKS.has(last.ask) ? last.ask : undefined;
}

/** Sum of the cost of the task's API requests. */
export function totalCost(messages: readonly UiMessage[]): number {
  let total = 0;
  for (const m of messages) {
    if (m.say !== 'api_req_started') continue;
    const item = requestItem(m.text ?? '');
    if (item.kind === 'request' && item.cost) total += item.cost;
  }
  return total;
}

function requestItem(text: string): ViewItem {
  const info = parseObject(text);
  return {
    kind: 'request',
    cost: num(info.cost),
    tokensIn: num(info.tokensIn),
    tokensOut: num(info.tokensOut),
    cacheReads: num(info.cacheReads),
    cancelled: typeof info.cancelReason === 'string' ? info.cancelReason : undefined,
  };
}

function toolItem(text: string): ViewItem {
  const info = parseObject(text);
  const tool = typeof info.tool === 'string' ? info.tool : 'tool';
  const path = typeof info.path === 'string' ? info.path : typeof info.regex === 'string' ? info.regex : undefined;
  const body = ['diff', 'content', 'command', 'result', 'query'].map((k) => info[k]).find((v): v is string => typeof v === 'string');
  return { kind: 'tool', title: path ? `${tool}: ${path}` : tool, body: cut(body ?? (Object.keys(info).length > 0 ? pretty(text) : text)) };
}

function questionItem(text: string): ViewItem {
  const info = parseObject(text);
  const question = typeof info.question === 'string' ? info.question : text;
  const suggestions = Array.isArray(info.suggest)
    ? info.suggest.map((s) => (typeof s === 'string' ? s : typeof (s as { answer?: unknown })?.answer === 'string' ? (s as { answer: string }).answer : '')).filter((s) => s.length > 0)
    : [];
  return { kind: 'question', text: question, suggestions };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function pretty(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function cut(text: string): string {
  return text.length > BLOCK_TEXT_LIMIT ? `${text.slice(0, BLOCK_TEXT_LIMIT)}\n… (${text.length - BLOCK_TEXT_LIMIT} more characters)` : text;
}
