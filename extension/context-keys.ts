/**
 * The context keys roo-sync sets for package.json's `when` clauses (the command palette, the
 * view's welcome content): set through VS Code's `setContext`, and kept here as last set so the
 * extension's own tests can read them (VS Code has no API to read a context key).
 */
import * as vscode from 'vscode';
import type { UiContext } from './ui-state';

let current: Partial<UiContext> = {};

/** Sets every key of `keys` whose value changed. */
export async function setContextKeys(keys: UiContext): Promise<void> {
  const changed = (Object.keys(keys) as (keyof UiContext)[]).filter((k) => current[k] !== keys[k]);
  current = { ...current, ...keys };
  await Promise.all(changed.map((k) => vscode.commands.executeCommand('setContext', k, keys[k])));
}

/** The context keys as last set (for the tests). */
export function contextKeys(): Partial<UiContext> {
  return { ...current };
}
