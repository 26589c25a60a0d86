/**
 * Paths received from another device (DESIGN.md "Security rules that always hold").
 *
 * A remote path names a file inside a workspace root on whichever device applies it, and
 * that device may run Windows, macOS or Linux. So the rules are the union of what is
 * dangerous on each: a path is refused when any platform could read it as leaving the root.
 */
import { SyncError } from '../errors';

/** Longest remote path accepted, in UTF-16 code units (Windows long paths allow 32 767). */
export const MAX_REMOTE_PATH_LENGTH = 4096;
/** Longest single segment: 255 is the file-name limit of ext4, APFS and NTFS. */
export const MAX_REMOTE_SEGMENT_LENGTH = 255;

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0001-\u001f\u007f]/;
/** `C:`, `c:foo` (drive-relative on Windows). */
const DRIVE_PREFIX = /^[A-Za-z]:/;
/** Segments Windows reads as `.` or `..` once it strips trailing dots and spaces. */
const DOTS_AND_SPACES = /^[. ]+$/;

function refuse(code: string, message: string, path: string): never {
  throw new SyncError(code, message, { path: path.slice(0, 256) });
}

/**
 * Returns the canonical form of a remote path: relative, '/'-separated, no empty or `.`
 * segments, no trailing slash. Backslashes count as separators (a Windows peer would read
 * them so). Refuses, with a SyncError:
 * - `PATH_EMPTY`: empty, or nothing left after normalising (`.`, `./`);
 * - `PATH_NUL`: contains a NUL character;
 * - `PATH_INVALID`: other control characters, not a string, or too long;
 * - `PATH_DRIVE_PREFIX`: `C:...`, UNC `\\server\share`, `//server`, `\\?\...`;
 * - `PATH_ABSOLUTE`: starts with `/` or `\`;
 * - `PATH_TRAVERSAL`: a `..` segment anywhere (also `...`, `.. ` and the like, which Windows
 *   trims to `..` or to nothing).
 */
export function normaliseRemotePath(path: string): string {
  if (typeof path !== 'string') refuse('PATH_INVALID', 'remote path is not a string', String(path));
  if (path.length === 0) refuse('PATH_EMPTY', 'remote path is empty', path);
  if (path.includes('\0')) refuse('PATH_NUL', 'remote path contains NUL', path);
  if (CONTROL_CHARS.test(path)) refuse('PATH_INVALID', 'remote path contains control characters', path);
  if (path.length > MAX_REMOTE_PATH_LENGTH) refuse('PATH_INVALID', 'remote path is too long', path);

  const slashed = path.replace(/\\/g, '/');
  if (slashed.startsWith('//')) refuse('PATH_DRIVE_PREFIX', 'remote path is a UNC or device path', path);
  if (DRIVE_PREFIX.test(slashed)) refuse('PATH_DRIVE_PREFIX', 'remote path has a drive prefix', path);
  if (slashed.startsWith('/')) refuse('PATH_ABSOLUTE', 'remote path is absolute', path);

  const segments: string[] = [];
  for (const segment of slashed.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (DOTS_AND_SPACES.test(segment)) refuse('PATH_TRAVERSAL', 'remote path leaves its root (..)', path);
    if (segment.length > MAX_REMOTE_SEGMENT_LENGTH) refuse('PATH_INVALID', 'remote path segment is too long', path);
    segments.push(segment);
  }
  if (segments.length === 0) refuse('PATH_EMPTY', 'remote path names no file', path);
  return segments.join('/');
}

/** True when `path` is already in the canonical form `normaliseRemotePath` returns. */
export function isNormalisedRemotePath(path: string): boolean {
  try {
    return normaliseRemotePath(path) === path;
  } catch {
    return false;
  }
}
