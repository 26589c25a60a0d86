/**
 * The notifications roo-sync shows (VS Code's information, warning and error messages). Every
 * one goes through here, so the extension's own tests can read what a user was told; the last
 * few are kept in memory, nothing is written anywhere.
 */
import * as vscode from 'vscode';

export type NoticeLevel = 'info' | 'warning' | 'error';

export interface Notice {
  level: NoticeLevel;
  text: string;
  /** The notification's buttons (none: the key is absent). */
  items?: string[];
}

/** How many recent notices are kept for the tests. */
const KEPT = 50;
const recent: Notice[] = [];

/** Shows `text` as a notification of `level` with optional buttons; resolves to the button chosen. */
export function notify(level: NoticeLevel, text: string, ...items: string[]): Thenable<string | undefined> {
  recent.push({ level, text, ...(items.length ? { items: [...items] } : {}) });
  if (recent.length > KEPT) recent.splice(0, recent.length - KEPT);
  if (level === 'error') return vscode.window.showErrorMessage(text, ...items);
  if (level === 'warning') return vscode.window.showWarningMessage(text, ...items);
  return vscode.window.showInformationMessage(text, ...items);
}

/** The notices shown in this extension host, oldest first (at most the last 50). */
export function recentNotices(): Notice[] {
  return recent.map((n) => ({ ...n, ...(n.items ? { items: [...n.items] } : {}) }));
}
