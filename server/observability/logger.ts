/**
 * JSON-lines logger: one object per line with `level`, `time`, `msg` and the caller's fields.
 * Every line passes through `redact` first, so no token, password or URL credential reaches
 * the output whatever a caller hands in.
 */
import { SyncError } from '../../core/errors';
import { redact, redactString } from './redact';

/** Levels from most to least verbose; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Readonly<Record<string, unknown>>;

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

export function createLogger(options: LoggerOptions = {}): Logger {
  const sink = options.sink ?? process.stdout;
  return new JsonLogger(options.level ?? 'info', sink, options.clock ?? (() => new Date()), options.fields ?? {});
}

class JsonLogger implements Logger {
  private readonly threshold: number;

  constructor(
    readonly level: LogLevel,
    private readonly sink: LogSink,
    private readonly clock: () => Date,
    private readonly bound: LogFields,
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
    return new JsonLogger(this.level, this.sink, this.clock, { ...this.bound, ...fields });
  }

  private write(level: Exclude<LogLevel, 'silent'>, msg: string, fields: LogFields | undefined): void {
    if (!this.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = { level, time: this.clock().toISOString(), msg: redactString(String(msg)) };
    const merged = redact(fields ? { ...this.bound, ...fields } : this.bound) as Record<string, unknown>;
    for (const [key, value] of Object.entries(merged)) {
      line[RESERVED.has(key) ? `field_${key}` : key] = value;
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

/** A logger that drops everything (library defaults, quiet tests). */
export const silentLogger: Logger = createLogger({ level: 'silent', sink: { write: () => undefined } });
