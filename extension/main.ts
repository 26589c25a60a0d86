/**
 * The VS Code extension entry point. Sync is off by default: until the user enables it and
 * signs in, the extension does nothing and local-only use is untouched.
 */
import * as vscode from 'vscode';

export function activate(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('roo-sync.showStatus', () => {
      void vscode.window.showInformationMessage('roo-sync: sync is off (not signed in).');
    }),
  );
}

export function deactivate(): void {}
