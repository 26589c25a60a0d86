/**
 * The "roo-sync" view (Explorer): the user's devices with their presence, and the unresolved
 * conflicts. A conflict opens the diff editor (local left, remote right) with Accept Local /
 * Accept Remote / Keep Both; a remote device that runs the assistant offers send message /
 * approve / deny / cancel (a roo-sync CLI device only syncs, so it offers none).
 */
import * as vscode from 'vscode';

export interface ViewDevice {
  id: string;
  name: string;
  /** This machine. */
  current: boolean;
  /** `online`, `idle`, `offline`, or `running <task>`. */
  presence: string;
  /** What it registered as (`vscode`, `cli`, `web`, ...). */
  kind: string | null;
  /** It runs the assistant and takes remote commands (core's `canRunTasks`). */
  canRunTasks: boolean;
}

export interface ViewConflict {
  id: string;
  /** Path relative to its workspace folder. */
  path: string;
  localUri: vscode.Uri;
  remoteUri: vscode.Uri;
}

export interface ViewModel {
  /** Shown alone while sync starts or could not start. */
  notice?: string;
  /** No rows at all (off, signed out): VS Code then shows the view's welcome content (package.json `viewsWelcome`). */
  welcome?: boolean;
  devices: ViewDevice[];
  conflicts: ViewConflict[];
}

type Node = { kind: 'notice'; text: string } | { kind: 'group'; group: 'devices' | 'conflicts' } | { kind: 'device'; device: ViewDevice } | { kind: 'conflict'; conflict: ViewConflict };

/** The tree item a conflict or device node is passed to its context-menu commands as. */
export type ViewNode = Node;

export class SyncView implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private model: ViewModel = { devices: [], conflicts: [] };
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly registration: vscode.Disposable;

  constructor() {
    this.registration = vscode.window.registerTreeDataProvider('roo-sync', this);
  }

  get current(): ViewModel {
    return this.model;
  }

  /** The device rows as the tree shows them (for the extension's tests). */
  deviceItems(): vscode.TreeItem[] {
    return this.getChildren({ kind: 'group', group: 'devices' }).map((node) => this.getTreeItem(node));
  }

  /** The labels of the tree's top-level rows (none: VS Code shows the views-welcome content instead). */
  rootLabels(): string[] {
    return this.getChildren().map((node) => {
      const label = this.getTreeItem(node).label;
      return typeof label === 'string' ? label : (label?.label ?? '');
    });
  }

  update(model: ViewModel): void {
    this.model = model;
    this.changed.fire(undefined);
  }

  getChildren(node?: Node): Node[] {
    if (!node) {
      if (this.model.welcome) return [];
      if (this.model.notice) return [{ kind: 'notice', text: this.model.notice }];
      return [
        { kind: 'group', group: 'devices' },
        { kind: 'group', group: 'conflicts' },
      ];
    }
    if (node.kind !== 'group') return [];
    return node.group === 'devices'
      ? this.model.devices.map((device) => ({ kind: 'device' as const, device }))
      : this.model.conflicts.map((conflict) => ({ kind: 'conflict' as const, conflict }));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case 'notice':
        return new vscode.TreeItem(node.text);
      case 'group': {
        const count = node.group === 'devices' ? this.model.devices.length : this.model.conflicts.length;
        const item = new vscode.TreeItem(`${node.group === 'devices' ? 'Devices' : 'Conflicts'} (${count})`, vscode.TreeItemCollapsibleState.Expanded);
        item.contextValue = `group-${node.group}`;
        return item;
      }
      case 'device': {
        const d = node.device;
        const item = new vscode.TreeItem(d.current ? `${d.name} (this device)` : d.name);
        item.description = d.presence;
        item.iconPath = new vscode.ThemeIcon(d.presence === 'offline' ? 'vm-outline' : 'vm-active');
        // The context menu's remote actions match `device-remote` only.
        item.contextValue = d.current ? 'device-current' : d.canRunTasks ? 'device-remote' : 'device-sync-only';
        if (!d.current && !d.canRunTasks) item.tooltip = `${d.name}: ${d.kind === 'cli' ? 'the roo-sync CLI syncs tasks but cannot run them' : 'syncs tasks but cannot run them'}`;
        item.id = `device:${d.id}`;
        return item;
      }
      case 'conflict': {
        const c = node.conflict;
        const item = new vscode.TreeItem(c.path);
        item.iconPath = new vscode.ThemeIcon('warning');
        item.contextValue = 'conflict';
        item.id = `conflict:${c.id}`;
        item.command = { command: 'roo-sync.conflict.open', title: 'Open Conflict', arguments: [node] };
        return item;
      }
    }
  }

  dispose(): void {
    this.registration.dispose();
    this.changed.dispose();
  }
}
