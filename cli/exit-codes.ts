/**
 * The exit codes of every `roo-sync` command, and how an error maps to one. Scripts branch on
 * them; `roo-sync --help` and docs/cli.md list them.
 */
import { CommanderError } from 'commander';

export const EXIT = {
  /** Done. */
  ok: 0,
  /** Failed (the error's code says why). */
  error: 1,
  /** Bad flags or arguments. */
  usage: 2,
  /** Finished, but some items (tasks, files) failed; the result lists them. */
  partial: 3,
  /** Not signed in, or the relay refused the credentials. */
  auth: 4,
  /** The relay could not be reached. */
  unreachable: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The lines `roo-sync --help` ends with. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  error (printed as "roo-sync: [CODE] message")
  2  usage: bad flags or arguments
  3  finished, but some items failed (listed in the result)
  4  not signed in, or the relay refused the credentials (run "roo-sync login")
  5  relay unreachable`;

/** Error codes that mean "sign in (again)". */
const AUTH_CODES = new Set([
  'CLI_NOT_SIGNED_IN',
  'AUTH_REQUIRED',
  'AUTH_TOKEN_INVALID',
  'AUTH_TOKEN_EXPIRED',
  'AUTH_FORBIDDEN',
  'AUTH_INVALID_CREDENTIALS',
  'AUTH_REFRESH_REUSED',
  'CLIENT_TOKEN_UNAVAILABLE',
  'AUTH_SIGNED_OUT',
]);

/** Error codes that mean "the relay is not there". */
const UNREACHABLE_CODES = new Set(['RELAY_UNREACHABLE', 'STORAGE_SYNC_FAILED', 'ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** Error codes that mean "the command line is wrong". */
const USAGE_CODES = new Set(['CLI_USAGE']);

/** The exit code for an error a command threw. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  const code = codeOf(error);
  if (code !== undefined) {
    if (AUTH_CODES.has(code)) return EXIT.auth;
    if (UNREACHABLE_CODES.has(code)) return EXIT.unreachable;
    if (USAGE_CODES.has(code)) return EXIT.usage;
  }
  return EXIT.error;
}

/** `roo-sync: [CODE] message`, never a stack; with the wait the relay asked for (Retry-After), when it did. */
export function errorLine(error: unknown): string {
  const code = codeOf(error);
  const message = error instanceof Error ? error.message : String(error);
  const retryAfter = (error as { details?: { retryAfterSeconds?: unknown } } | null)?.details?.retryAfterSeconds;
  const wait = typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter > 0 ? ` (the relay asks to wait ${formatWait(retryAfter)})` : '';
  return `roo-sync: ${code ? `[${code}] ` : ''}${message}${wait}`;
}

function formatWait(seconds: number): string {
  if (seconds < 120) return `${Math.ceil(seconds)} s`;
  return `${Math.ceil(seconds / 60)} min`;
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  // fetch wraps socket errors: the OS code is on the cause.
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  return typeof cause === 'string' ? cause : undefined;
}
