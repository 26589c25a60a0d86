/**
 * How the user commands write: result lines to stdout (through commander's output settings,
 * so tests can capture them), a JSON document with --json, and the shared exit-code handling
 * (a result with failed items sets exit code 3 without throwing).
 */
import { hostname } from 'node:os';
import type { Command } from 'commander';
import { EXIT, EXIT_CODES_HELP } from './exit-codes';
import { writer } from './commands/admin-connection';

export interface Output {
  /** Writes one line of human-readable output (nothing with --json). */
  line(text: string): void;
  /** Writes the command's result: JSON with --json, else the lines `human` gives. */
  result(value: unknown, human: () => string[]): void;
  readonly json: boolean;
}

export function outputFor(cmd: Command, json: boolean): Output {
  const out = writer(cmd);
  return {
    json,
    line(text) {
      if (!json) out(text);
    },
    result(value, human) {
      if (json) out(JSON.stringify(value, null, 2));
      else for (const l of human()) out(l);
    },
  };
}

/** Exit code 3 when some items failed (the result lists them). */
export function markPartialFailure(failed: number): void {
  if (failed > 0) process.exitCode = EXIT.partial;
}

/** Usage errors of these commands exit 2 (commander's own default is 1); their --help lists the exit codes. */
export function usageExits(cmd: Command): Command {
  cmd.addHelpText('after', EXIT_CODES_HELP);
  return cmd.exitOverride((err) => {
    if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(0);
    process.exit(EXIT.usage);
  });
}

/** This machine's name as a device name. */
export function defaultDeviceName(): string {
  return `${hostname()} (roo-sync CLI)`;
}

export function formatMb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
