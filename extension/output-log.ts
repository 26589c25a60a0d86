/**
 * The "roo-sync" output channel: leveled lines (`rooSync.logLevel`) with a time stamp. Every line
 * goes through `redact` first, so a token or password that slipped into a message or an error
 * never reaches the channel.
 */
import * as vscode from 'vscode';
import { LOG_LEVELS, type LogLevel } from './settings';

export interface Logger {
  error(message: string, error?: unknown): void;
  warn(message: string, error?: unknown): void;
  info(message: string): void;
  debug(message: string): void;
  trace(message: string): void;
}

/** Strips what looks like a secret: bearer tokens, JWT-like strings, `token`/`password` fields, long opaque keys. */
export function redact(text: string): string {
  return text
    .replace(/(bearer\s+)[A-Za-z0-9._~+/=-]+/gi, '$1[redacted]')
    .replace(/("?(?:access|refresh)?_?token"?\s*[:=]\s*"?)[^",\s}]+/gi, '$1[redacted]')
    .replace(/("?(?:password|secret|apiKey|api_key)"?\s*[:=]\s*"?)[^",\s}]+/gi, '$1[redacted]')
    .replace(/\b[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\b/g, '[redacted]')
    .replace(/\b[A-Za-z0-9_-]{40,}\b/g, '[redacted]');
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

export class OutputLog implements Logger, vscode.Disposable {
  private readonly channel: vscode.OutputChannel;
  private threshold: number;

  constructor(level: LogLevel, channel?: vscode.OutputChannel) {
    this.channel = channel ?? vscode.window.createOutputChannel('roo-sync');
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  setLevel(level: LogLevel): void {
    this.threshold = LOG_LEVELS.indexOf(level);
  }

  show(): void {
    this.channel.show(true);
  }

  private write(level: LogLevel, message: string, error?: unknown): void {
    if (LOG_LEVELS.indexOf(level) > this.threshold) return;
    const suffix = error === undefined ? '' : ` (${describeError(error)})`;
    this.channel.appendLine(`${new Date().toISOString()} [${level}] ${redact(message + suffix)}`);
  }

  error(message: string, error?: unknown): void {
    this.write('error', message, error);
  }
  warn(message: string, error?: unknown): void {
    this.write('warn', message, error);
  }
  info(message: string): void {
    this.write('info', message);
  }
  debug(message: string): void {
    this.write('debug', message);
  }
  trace(message: string): void {
    this.write('trace', message);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
