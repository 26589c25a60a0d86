/**
 * `roo-sync server`: runs the relay. Every RelayConfig option is a flag (`--port`, `--database-url`,
 * ...; switches such as `--no-migrate` take no value) and an environment variable (PORT,
 * DATABASE_URL, NO_MIGRATE, ...): flag, then environment, then the default, all validated by
 * loadRelayConfig (CONFIG_INVALID names the option). With no DATABASE_URL the relay runs on the
 * embedded PGlite in DATA_DIR with the in-process cache and pub/sub, and says so at start.
 *
 * SIGTERM and SIGINT start a graceful shutdown (installed here, never in the library); a second
 * signal while shutting down is logged and changes nothing. Exit code 0 after a clean stop.
 */
import { Command, Option } from 'commander';
import { loadRelayConfig } from '../../server/config/load-config';
import { RELAY_OPTIONS, type RelayOption } from '../../server/config/options';
import { RELAY_DEFAULTS, type RelayConfig } from '../../server/config/relay-config';
import { createLogger, type Logger } from '../../server/observability/logger';
import { assertOneDatabase } from './admin-connection';
import { startRelayServer, type RelayServer, type RelayServerOptions } from '../../server/relay-server';

export interface ServerCommandDeps {
  /** Default `startRelayServer`. */
  start?: (config: RelayConfig, options: RelayServerOptions) => Promise<RelayServer>;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Resolves to stop the server instead of waiting for SIGTERM/SIGINT (tests). */
  stopSignal?: (relay: RelayServer) => Promise<void>;
}

export function registerServerCommand(program: Command, deps: ServerCommandDeps = {}): void {
  const cmd = program
    .command('server')
    .description('Run the relay (HTTP + WebSocket on one port). With no DATABASE_URL: embedded PGlite in DATA_DIR, in-process cache and pub/sub.');
  const switches = new Map<string, RelayOption>();
  for (const option of RELAY_OPTIONS) {
    if (option.switch) {
      const flag = new Option(`--${option.flag}`, `${option.help} (env ${option.env}=1)`);
      switches.set(flag.attributeName(), option);
      cmd.addOption(flag);
      continue;
    }
    if (option.optionalValue) {
      cmd.addOption(new Option(`--${option.flag} [${option.optionalValue}]`, `${option.help} (env ${option.env})`));
      continue;
    }
    const fallback = defaultOf(option.group, option.field);
    const shown = option.secret || fallback === undefined ? '' : `, default ${typeof fallback === 'boolean' ? (fallback ? 'on' : 'off') : String(fallback)}`;
    cmd.addOption(new Option(`--${option.flag} <value>`, `${option.help} (env ${option.env}${shown})`));
  }
  cmd.action(async (flags: Record<string, unknown>, command: Command) => {
    assertOneDatabase(command);
    const env = deps.env ?? process.env;
    // A switch counts only when given: commander also fills in a default for `--no-x` (x: true).
    const configFlags: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(flags)) {
      const option = switches.get(key);
      if (!option) configFlags[key] = value;
      else if (command.getOptionValueSource(key) === 'cli') configFlags[option.flag] = true;
    }
    const config = loadRelayConfig({ flags: configFlags, env });
    const logger = createLogger({ level: config.log.level, format: config.log.format, fields: { component: 'relay' } });
    // Handlers go in before the relay starts: a signal during start-up stops it once it is up.
    const signals = deps.stopSignal ? undefined : listenForStopSignal(logger);
    try {
      const relay = deps.start ? await deps.start(config, {}) : await startRelayServer(config, { logger });
      await (deps.stopSignal ? deps.stopSignal(relay) : signals!.received);
      await relay.close();
    } finally {
      signals?.remove();
    }
  });
}

/**
 * Resolves `received` at the first SIGTERM or SIGINT; a repeated signal is only logged (the
 * shutdown already under way finishes). `remove()` takes the handlers off again.
 */
function listenForStopSignal(logger: Logger): { received: Promise<void>; remove(): void } {
  let received = false;
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  const onSignal = (signal: NodeJS.Signals): void => {
    if (received) logger.warn('already shutting down', { signal });
    else logger.info('signal received; shutting down', { signal });
    received = true;
    resolve();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return {
    received: promise,
    remove() {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    },
  };
}

function defaultOf(group: keyof RelayConfig, field: string): unknown {
  return (RELAY_DEFAULTS[group] as unknown as Record<string, unknown>)[field];
}
