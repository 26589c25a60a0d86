/**
 * Names of conflict copies: the version of a file that did not win, kept beside it as
 * `name.sync-conflict-<YYYYMMDD-HHMMSS>-<device>.ext` (UTC time).
 */

const MARK = '.sync-conflict-';
const COPY_NAME = /\.sync-conflict-\d{8}-\d{6}-[A-Za-z0-9_-]+(?:\.[^/]*)?$/;

/**
 * The path of the conflict copy of `path` made at `at` for the version written by `device`.
 * The extension (after the last dot of the name; none for dotfiles like `.env`) stays last so
 * the copy opens like the original. Device ids are reduced to `[A-Za-z0-9_-]` (other
 * characters become `_`, at most 40 kept) so the name stays a valid, recognisable file name.
 */
export function conflictCopyPath(path: string, at: Date, device: string): string {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash + 1);
  const base = path.slice(slash + 1);
  const dot = base.lastIndexOf('.');
  const [name, ext] = dot > 0 ? [base.slice(0, dot), base.slice(dot)] : [base, ''];
  const safeDevice = device.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40) || 'unknown';
  return `${dir}${name}${MARK}${timestamp(at)}-${safeDevice}${ext}`;
}

/** True when the path's file name is a conflict copy's (such files are never synced). */
export function isConflictCopy(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.includes(MARK) && COPY_NAME.test(base);
}

function timestamp(at: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const time = Number.isFinite(at.getTime()) ? at : new Date(0);
  return (
    `${pad(time.getUTCFullYear(), 4)}${pad(time.getUTCMonth() + 1)}${pad(time.getUTCDate())}-` +
    `${pad(time.getUTCHours())}${pad(time.getUTCMinutes())}${pad(time.getUTCSeconds())}`
  );
}
