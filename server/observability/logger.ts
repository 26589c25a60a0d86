/**
 * The relay's logger, in two formats: JSON lines (one object per line with `level`, `time`,
 * `msg` and the caller's fields) for machines, and on a terminal one short human line per
 * event (`time LEVEL message key=value ...`, the scalar fields and error messages only).
 * Every line passes through `redact` first, so no token, password or URL credential reaches
 * the output whatever a caller hands in. Errors keep their stack only at `error` and `fatal`:
 * a warning says what went wrong, not where in the code.
 */
import { SyncError } from '../../core/errors';
import { redact, redactString } from './redact';

/** Levels from most to least verbose; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Readonly<Record<string, unknown>>;
/** `json`: one JSON object per line; `pretty`: one short human line per event. */
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const SEVERITY: Readonly<Record<LogLevel, number>> = {
  trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Number.POSITIVE_INFINITY,
};
/** Fields the logger writes itself; a caller's field of the same name is kept under `field_<name>`. */
const RESERVED = new Set(['level', 'time', 'msg']);

export interface Logger {
  readonly level: LogLevel;
  isLevelEnabled(level: LogLevel): boolean;
  trace(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  fatal(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (a line's own fields win on a clash). */
  child(fields: LogFields): Logger;
}

/** Where lines go: anything with `write(line)` (process.stdout, a test's array sink). */
export interface LogSink {
  write(line: string): unknown;
  /** A terminal (process.stdout on a TTY): the default format there is `pretty`. */
  readonly isTTY?: boolean;
}

export interface LoggerOptions {
  /** Default `info`. */
  level?: LogLevel;
  /** Default `process.stdout`. */
  sink?: LogSink;
  /** Fields bound to every line. */
  fields?: LogFields;
  /** Default `() => new Date()`; tests pin it. */
  clock?: () => Date;
  /** Default: `pretty` when the sink is a terminal, else `json`. */
  format?: LogFormat;
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

/** Parses a LOG_LEVEL value (case-insensitive); throws CONFIG_INVALID naming the option. */
export function parseLogLevel(value: string, option = 'LOG_LEVEL'): LogLevel {
  const lower = value.trim().toLowerCase();
  if (isLogLevel(lower)) return lower;
  throw new SyncError('CONFIG_INVALID', `${option} must be one of ${LOG_LEVELS.join(', ')}`, {
    option, reason: `unknown log level "${redactString(value)}"`,
  });
}

export function isLogFormat(value: unknown): value is LogFormat {
  return typeof value === 'string' && (LOG_FORMATS as readonly string[]).includes(value);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const sink = options.sink ?? process.stdout;
  const format = options.format ?? (sink.isTTY === true ? 'pretty' : 'json');
  return new LineLogger(options.level ?? 'info', sink, options.clock ?? (() => new Date()), options.fields ?? {}, format);
}

class LineLogger implements Logger {
  private readonly threshold: number;

  constructor(
    readonly level: LogLevel,
    private readonly sink: LogSink,
    private readonly clock: () => Date,
    private readonly bound: LogFields,
    private readonly format: LogFormat,
  ) {
    this.threshold = SEVERITY[level];
  }

  isLevelEnabled(level: LogLevel): boolean {
    return level !== 'silent' && SEVERITY[level] >= this.threshold;
  }

  trace(msg: string, fields?: LogFields): void { this.write('trace', msg, fields); }
  debug(msg: string, fields?: LogFields): void { this.write('debug', msg, fields); }
  info(msg: string, fields?: LogFields): void { this.write('info', msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.write('warn', msg, fields); }
  error(msg: string, fields?: LogFields): void { this.write('error', msg, fields); }
  fatal(msg: string, fields?: LogFields): void { this.write('fatal', msg, fields); }

  child(fields: LogFields): Logger {
    return new LineLogger(this.level, this.sink, this.clock, { ...this.bound, ...fields }, this.format);
  }

  private write(level: Exclude<LogLevel, 'silent'>, msg: string, fields: LogFields | undefined): void {
    if (!this.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = { level, time: this.clock().toISOString(), msg: redactString(String(msg)) };
    const merged = redact(fields ? { ...this.bound, ...fields } : this.bound) as Record<string, unknown>;
    const keepStacks = SEVERITY[level] >= SEVERITY.error;
    for (const [key, value] of Object.entries(merged)) {
      line[RESERVED.has(key) ? `field_${key}` : key] = keepStacks ? value : withoutStacks(value);
    }
    if (this.format === 'pretty') {
      this.sink.write(`${prettyLine(line)}\n`);
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      text = JSON.stringify({ level, time: line.time, msg: line.msg, logError: 'fields could not be serialised' });
    }
    this.sink.write(`${text}\n`);
  }
}

/** Fields a human line leaves out: bound to every line, or too large to read on one. */
const PRETTY_SKIPPED = new Set(['component', 'config']);
const PRETTY_VALUE_MAX = 160;

/**
 * `12:34:56.789Z INFO  relay listening url=http://127.0.0.1:8787 cache=in-process`: time of
 * day (UTC), level, message, then the scalar fields; an error field shows as its message and
 * code; a list of numbers or strings is joined; other objects are left out (LOG_FORMAT=json
 * has everything).
 */
function prettyLine(line: Record<string, unknown>): string {
  const time = String(line.time).slice(11);
  const parts = [time, String(line.level).toUpperCase().padEnd(5), String(line.msg)];
  for (const [key, value] of Object.entries(line)) {
    if (RESERVED.has(key) || PRETTY_SKIPPED.has(key)) continue;
    const shown = prettyValue(value);
    if (shown !== undefined) parts.push(`${key}=${shown}`);
  }
  return parts.join(' ');
}

function prettyValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) {
    return value.every((item) => typeof item === 'number' || typeof item === 'string') ? prettyValue(value.join(',')) : undefined;
  }
  if (typeof value === 'object') {
    const error = value as { message?: unknown; code?: unknown };
    if (typeof error.message !== 'string') return undefined;
    return prettyValue(typeof error.code === 'string' ? `${error.message} [${error.code}]` : error.message);
  }
  let text = String(value);
  if (text.length > PRETTY_VALUE_MAX) text = `${text.slice(0, PRETTY_VALUE_MAX)}...`;
  return /^[^\s"=]+$/.test(text) ? text : JSON.stringify(text);
}

/** A redacted value with the `stack` of every serialised error in it removed. */
function withoutStacks(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutStacks);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  const isError = typeof (value as { message?: unknown }).message === 'string';
  for (const [key, inner] of Object.entries(value)) {
    if (isError && key === 'stack') continue;
    out[key] = withoutStacks(inner);
  }
  return out;
}

/** A logger that drops everything (library defaults, quiet tests). */
export const silentLogger: Logger = createLogger({ level: 'silent', sink: { write: () => undefined } });
