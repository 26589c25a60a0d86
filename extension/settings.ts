/**
 * The extension's settings (`rooSync.*`, declared in package.json's `contributes.configuration`),
 * read into one typed object. Defaults live in the manifest; the fallbacks here only cover a
 * value of the wrong type.
 */
import * as vscode from 'vscode';
import type { TaskSource } from '../core/model/changes';

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug', 'trace'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const TASK_SOURCES: readonly TaskSource[] = ['roo-code', 'zoo-code', 'kilo-code', 'cline'];

export interface RooSyncSettings {
  serverUrl: string;
  enabled: boolean;
  /** Assistants to sync; empty = every one found. */
  sources: TaskSource[];
  workspaceSync: { enabled: boolean; include: string[]; exclude: string[] };
  /** Frames from this device with a smaller body go uncompressed; null: core's default (see RooCloudClientOptions). */
  compressionThreshold: number | null;
  logLevel: LogLevel;
}

const stringList = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);

export function readSettings(): RooSyncSettings {
  const c = vscode.workspace.getConfiguration('rooSync');
  const level = c.get<string>('logLevel', 'info');
  const threshold = c.get<number | null>('compressionThreshold', null);
  return {
    serverUrl: (c.get<string>('serverUrl', '') ?? '').trim(),
    enabled: c.get<boolean>('enabled', false) === true,
    sources: stringList(c.get('sources')).filter((s): s is TaskSource => (TASK_SOURCES as readonly string[]).includes(s)),
    workspaceSync: {
      enabled: c.get<boolean>('workspaceSync.enabled', false) === true,
      include: stringList(c.get('workspaceSync.include')),
      exclude: stringList(c.get('workspaceSync.exclude')),
    },
    compressionThreshold: typeof threshold === 'number' && Number.isFinite(threshold) && threshold >= 0 ? Math.floor(threshold) : null,
    logLevel: (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : 'info',
  };
}

/** Writes a machine-wide setting (User settings). */
export function updateSetting(key: string, value: unknown): Thenable<void> {
  return vscode.workspace.getConfiguration('rooSync').update(key, value, vscode.ConfigurationTarget.Global);
}
