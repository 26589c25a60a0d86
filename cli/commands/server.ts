/**
 * `roo-sync server`: runs the relay. Every RelayConfig option is a flag (`--port`, `--database-url`,
 * ...) and an environment variable (PORT, DATABASE_URL, ...): flag, then environment, then the
 * default. With no DATABASE_URL the relay runs on the embedded PGlite in DATA_DIR with the
 * in-process cache and pub/sub, and says so at start.
 *
 * SIGTERM and SIGINT start a graceful shutdown (installed here, never in the library); a second
 * signal while shutting down is logged and changes nothing. Exit code 0 after a clean stop.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadRelayConfig } from '../../server/config/load-config';
import { RELAY_OPTIONS } from '../../server/config/options';
import { RELAY_DEFAULTS, type RelayConfig } from '../../server/config/relay-config';
import { createLogger, type Logger } from '../../server/observability/logger';
import { DEFAULT_COMPACTION_INTERVAL_MS, startRelayServer, type RelayServer, type RelayServerOptions } from '../../server/relay-server';

export interface ServerCommandDeps {
  /** Default `startRelayServer`. */
  start?: (config: RelayConfig, options: RelayServerOptions) => Promise<RelayServer>;
  /** Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Resolves to stop the server instead of waiting for SIGTERM/SIGINT (tests). */
  stopSignal?: (relay: RelayServer) => Promise<void>;
}

interface ServerFlags extends Record<string, unknown> {
  migrate: boolean;
  allowSignup?: boolean;
  trustProxy?: boolean;
  compactionIntervalSeconds?: number;
}

export function registerServerCommand(program: Command, deps: ServerCommandDeps = {}): void {
  const cmd = program
    .command('server')
    .description('Run the relay (HTTP + WebSocket on one port). With no DATABASE_URL: embedded PGlite in DATA_DIR, in-process cache and pub/sub.');
  for (const option of RELAY_OPTIONS) {
    const fallback = defaultOf(option.group, option.field);
    const shown = option.secret || fallback === undefined ? '' : `, default ${String(fallback)}`;
    cmd.addOption(new Option(`--${option.flag} <value>`, `${option.help} (env ${option.env}${shown})`));
  }
  cmd
    .addOption(new Option('--no-migrate', 'do not apply pending migrations at start (env NO_MIGRATE=1)'))
    .addOption(new Option('--allow-signup', 'let anyone create an account with POST /v1/users (env ALLOW_SIGNUP=1)'))
    .addOption(new Option('--trust-proxy', 'take client addresses from X-Forwarded-For: only behind your own reverse proxy (env TRUST_PROXY=1)'))
    .addOption(
      new Option('--compaction-interval-seconds <n>', `how often the change-log retention job runs, s; 0 = never (env COMPACTION_INTERVAL_SECONDS, default ${DEFAULT_COMPACTION_INTERVAL_MS / 1000})`)
        .argParser(parseSeconds),
    )
    .action(async (flags: ServerFlags) => {
      const env = deps.env ?? process.env;
      const { migrate, allowSignup, trustProxy, compactionIntervalSeconds, ...configFlags } = flags;
      const config = loadRelayConfig({ flags: configFlags, env });
      const options: RelayServerOptions = {
        migrate: migrate !== false && !truthy(env.NO_MIGRATE),
        allowSignup: allowSignup === true || truthy(env.ALLOW_SIGNUP),
        trustProxy: trustProxy === true || truthy(env.TRUST_PROXY),
        compactionIntervalMs:
          (compactionIntervalSeconds ?? (env.COMPACTION_INTERVAL_SECONDS ? parseSeconds(env.COMPACTION_INTERVAL_SECONDS) : DEFAULT_COMPACTION_INTERVAL_MS / 1000)) * 1000,
      };
      const logger = createLogger({ level: config.log.level, fields: { component: 'relay' } });
      // Handlers go in before the relay starts: a signal during start-up stops it once it is up.
      const signals = deps.stopSignal ? undefined : listenForStopSignal(logger);
      try {
        const relay = deps.start ? await deps.start(config, options) : await startRelayServer(config, { logger }, options);
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

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}

function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('a number of seconds (0 or more)');
  return Number(value.trim());
}
