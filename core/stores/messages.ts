/**
 * The shapes of the entries the assistants keep in a task folder (see
 * shared/reference/task-stores.md). Only the fields roo-sync reads are typed; every entry may
 * carry more, and those pass through untouched.
 */

/** One entry of ui_messages.json (Roo Code, Zoo Code, Kilo Code and Cline share it). */
export interface ClineMessage {
  /** Milliseconds since the epoch; the entry's identity (a partial message keeps its ts). */
  ts: number;
  type: 'ask' | 'say';
  ask?: string;
  say?: string;
  text?: string;
  /** Data URLs. */
  images?: string[];
  partial?: boolean;
  reasoning?: string;
  conversationHistoryIndex?: number;
  isAnswered?: boolean;
  [field: string]: unknown;
}

/** One content block of an Anthropic MessageParam. */
export type ApiContentBlock =
  | { type: 'text'; text: string }
  | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string | ApiContentBlock[]; is_error?: boolean }
  | { type: 'thinking'; thinking: string; signature?: string }
  | { type: string; [field: string]: unknown };

/** One entry of api_conversation_history.json (or the legacy claude_messages.json). */
export interface ApiMessage {
  role: 'user' | 'assistant';
  content: string | ApiContentBlock[];
  ts?: number;
  [field: string]: unknown;
}

/** The JSON carried in the `text` of a `say: "api_req_started"` message. */
export interface ApiRequestInfo {
  apiProtocol?: string;
  tokensIn?: number;
  tokensOut?: number;
  cacheWrites?: number;
  cacheReads?: number;
  cost?: number;
  cancelReason?: string;
  /** Before Roo Code v3.28: the whole user turn, file contents included. */
  request?: string;
  [field: string]: unknown;
}
