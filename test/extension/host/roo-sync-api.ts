/** In-host access to roo-sync itself (the extension under test) and small waiting helpers. */
import * as vscode from 'vscode';
import type { RooSyncApi } from '../../../extension/main';

export const ROO_SYNC_ID = 'roo-sync.roo-sync';

export function rooSyncExtension(): vscode.Extension<RooSyncApi> {
  const extension = vscode.extensions.getExtension<RooSyncApi>(ROO_SYNC_ID);
  if (!extension) throw new Error(`${ROO_SYNC_ID} is not loaded in this host`);
  return extension;
}

/** Waits until `condition` holds (checked every `everyMs`), failing after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, condition: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** The activated extension's API with its test hooks (the harness sets ROO_SYNC_TEST_HOOKS=1). */
export async function rooSync(): Promise<Required<RooSyncApi>> {
  const extension = rooSyncExtension();
  await waitFor('roo-sync to activate on startup', () => extension.isActive);
  const api = extension.exports;
  if (!api.testing) throw new Error('roo-sync runs without its test hooks (ROO_SYNC_TEST_HOOKS=1)');
  return api as Required<RooSyncApi>;
}
