/**
 * WorkspaceFiles on disk: one workspace folder. Every path from another device is resolved
 * with `resolveInsideWorkspace` (no `..`, no absolute paths, no symlink out of the root);
 * writes are atomic (temp file in the same folder, then rename) and keep the sender's mode
 * and mtime. Listing uses the tracking scanner (default ignores: `.git`, `node_modules`,
 * conflict copies).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { WorkspaceId } from '../../ids';
import type { ManifestEntry } from '../../tracking/manifest';
import type { WorkspaceFileInfo, WorkspaceFiles } from '../../storage/workspace-files';
import { resolveInsideWorkspace } from '../paths/resolve-inside';
import { scanWorkspace } from '../tracking/scan-workspace';

/** Temp files of unfinished writes end so; scans leave them out. */
const TEMP_SUFFIX = '.roo-sync.tmp';

export interface FsWorkspaceFilesOptions {
  workspaceId: WorkspaceId;
  /** The workspace folder. */
  root: string;
  /** More relative paths to leave out (see scanWorkspace). */
  ignore?: (relPath: string) => boolean;
}

export class FsWorkspaceFiles implements WorkspaceFiles {
  readonly workspaceId: WorkspaceId;
  readonly root: string;

  constructor(private readonly options: FsWorkspaceFilesOptions) {
    this.workspaceId = options.workspaceId;
    this.root = options.root;
  }

  async scan(previous: ReadonlyMap<string, ManifestEntry>): Promise<Map<string, ManifestEntry>> {
    const extra = this.options.ignore;
    const ignore = (rel: string) => rel.endsWith(TEMP_SUFFIX) || (extra ? extra(rel) : false);
    return scanWorkspace(this.root, { previous, ignore });
  }

  async list(): Promise<WorkspaceFileInfo[]> {
    const manifest = await this.scan(new Map());
    return [...manifest.values()].map(({ path, size, mode, mtime }) => ({ path, size, mode, mtime }));
  }

  async stat(path: string): Promise<WorkspaceFileInfo | null> {
    try {
      const info = await fs.stat(await resolveInsideWorkspace(this.root, path));
      return info.isFile() ? { path, size: info.size, mode: info.mode & 0o777, mtime: info.mtimeMs } : null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async read(path: string): Promise<Uint8Array | null> {
    const file = await resolveInsideWorkspace(this.root, path);
    try {
      return new Uint8Array(await fs.readFile(file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async write(path: string, bytes: Uint8Array, meta: { mode: number; mtime: number }): Promise<void> {
    const file = await resolveInsideWorkspace(this.root, path);
    await fs.mkdir(dirname(file), { recursive: true });
    const temp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`);
    try {
      await fs.writeFile(temp, bytes, { flag: 'wx' });
      await fs.chmod(temp, meta.mode & 0o777);
      const seconds = meta.mtime / 1000;
      await fs.utimes(temp, seconds, seconds);
      await fs.rename(temp, file);
    } catch (err) {
      await fs.rm(temp, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  async remove(path: string): Promise<void> {
    await fs.rm(await resolveInsideWorkspace(this.root, path), { force: true });
  }
}
