/**
 * Shared plumbing of the administration commands (`user`, `device`, `db compact`): the
 * database connection options (also those of the `db` commands; pending migrations are applied
 * first, as the relay does), and,
 * for the commands that revoke devices (`device revoke`, `user delete`), the Redis options and
 * the session validator that tells running relays (through Redis pub/sub) about the revocation
 * so they close the devices' sockets and drop their cached sessions at once.
 */
import { Command, Option } from 'commander';
import { SessionValidator } from '../../server/auth/access-tokens';
import { openCache, type CacheBackend } from '../../server/cache/open-cache';
import type { Database } from '../../server/db/database';
import { migrate } from '../../server/db/migrator';
import { DEFAULT_DATA_DIR, openDatabase, type DatabaseConfig } from '../../server/db/open-database';

/** The options `withDatabaseOptions` adds. */
export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
}

export interface AdminConnectionOptions extends DatabaseOptions {
  /** Only on commands that revoke devices (withAdminConnection `revokes`). */
  redisUrl?: string;
  redisKeyPrefix?: string;
}

export interface AdminCommandKind {
  /**
   * The command revokes devices or drops sessions: it takes --redis-url/--redis-key-prefix so
   * that running relays hear about it at once. Other commands do not offer them.
   */
  revokes?: boolean;
  /**
   * The command works on an existing database only: an embedded --data-dir without one is
   * refused (DB_DATA_DIR_NOT_FOUND) instead of creating a new database there.
   */
  mustExist?: boolean;
}

export interface AdminDeps {
  /** Opens the database; default `openDatabase`. */
  open?: (config: DatabaseConfig) => Promise<Database>;
  /** Reads a secret (password) without echoing it; default: stdin (prompt without echo on a terminal). */
  readSecret?: (prompt: string) => Promise<string>;
}

export interface AdminContext {
  db: Database;
  sessions: SessionValidator;
  out(line: string): void;
}

/**
 * Adds --database-url and --data-dir, and for a command that `revokes`, --redis-url and
 * --redis-key-prefix (each also from its environment variable).
 */
export function withAdminConnection(cmd: Command, kind: AdminCommandKind = {}): Command {
  withDatabaseOptions(cmd, kind.mustExist);
  if (!kind.revokes) return cmd;
  return cmd
    .addOption(
      new Option('--redis-url <url>', "the relays' Redis: running relays close the revoked devices' sockets and drop their cached sessions at once (else within the session cache TTL)").env('REDIS_URL'),
    )
    .addOption(new Option('--redis-key-prefix <prefix>', "the relays' prefix of Redis keys and channels").env('REDIS_KEY_PREFIX').default('roo-sync:'));
}

/**
 * Adds --database-url and --data-dir (each also from its environment variable), for the
 * administration and `db` commands. `mustExist`: the command refuses an embedded --data-dir
 * without a database (DB_DATA_DIR_NOT_FOUND) instead of creating one; `databaseConfig` reads
 * it back.
 */
export function withDatabaseOptions(cmd: Command, mustExist = false): Command {
  if (mustExist) needsDatabase.add(cmd);
  const dataDirHelp = mustExist
    ? 'embedded PGlite data directory (without --database-url); must already hold a database'
    : 'embedded PGlite data directory (without --database-url); created when missing';
  return cmd
    .addOption(new Option('--database-url <url>', 'PostgreSQL URL').env('DATABASE_URL'))
    .addOption(new Option('--data-dir <dir>', dataDirHelp).env('DATA_DIR').default(DEFAULT_DATA_DIR));
}

/**
 * How a command made by `withDatabaseOptions` opens its database. Both --database-url and
 * --data-dir, one of them on the command line, is a usage error (exit 2) rather than a silent
 * choice; from the environment alone (DATABASE_URL beside an image's DATA_DIR) the URL wins, as
 * for the relay.
 */
export function databaseConfig(options: DatabaseOptions, cmd: Command): DatabaseConfig {
  assertOneDatabase(cmd);
  return { databaseUrl: options.databaseUrl || undefined, dataDir: options.dataDir, mustExist: needsDatabase.has(cmd), pool: { max: 2 } };
}

/** Refuses --database-url together with --data-dir when either was typed on the command line. */
export function assertOneDatabase(cmd: Command): void {
  // An empty value (DATABASE_URL= in a compose file) counts as unset, as for the relay.
  const source = (key: string): string | undefined => {
    const value: unknown = cmd.getOptionValue(key);
    return value === undefined || value === '' ? undefined : cmd.getOptionValueSource(key);
  };
  const url = source('databaseUrl');
  const dir = source('dataDir');
  if (url === undefined || url === 'default' || dir === undefined || dir === 'default') return;
  if (url !== 'cli' && dir !== 'cli') return;
  const name = (flag: string, env: string, from: string): string => (from === 'cli' ? flag : `${env} (environment)`);
  cmd.error(
    `error: ${name('--database-url', 'DATABASE_URL', url)} and ${name('--data-dir', 'DATA_DIR', dir)} name two databases: give one (--data-dir is only for the embedded database)`,
    { exitCode: 2, code: 'roo-sync.conflictingDatabase' },
  );
}

/** The commands `withDatabaseOptions` made `mustExist`. */
const needsDatabase = new WeakSet<Command>();

/**
 * Opens the database (refusing a missing embedded one when the command was made `mustExist`)
 * and Redis when given, runs `fn`, closes everything.
 */
export async function withAdmin(
  deps: AdminDeps,
  options: AdminConnectionOptions,
  cmd: Command,
  fn: (ctx: AdminContext) => Promise<void>,
): Promise<void> {
  const open = deps.open ?? openDatabase;
  const db = await open(databaseConfig(options, cmd));
  let backend: CacheBackend | undefined;
  let sessions: SessionValidator | undefined;
  try {
    // Brings a new database (say, before the relay's first start) up to the schema; a no-op otherwise.
    await migrate(db);
    backend = await openCache({ redisUrl: options.redisUrl || undefined, keyPrefix: options.redisKeyPrefix, waitForReadyMs: options.redisUrl ? 2_000 : 0 });
    sessions = await SessionValidator.start({ db, cache: backend.cache, pubsub: backend.pubsub, ttlSeconds: 60 });
    await fn({ db, sessions, out: writer(cmd) });
  } finally {
    await sessions?.close();
    await backend?.close();
    await db.close();
  }
}

/** Writes through the root program's output configuration (tests capture it there). */
export function writer(cmd: Command): (line: string) => void {
  const writeOut = rootOf(cmd).configureOutput().writeOut ?? ((text: string) => process.stdout.write(text));
  return (line) => writeOut(`${line}\n`);
}

/** Like `writer`, for notes beside the result: stderr (the program's writeErr). */
export function noteWriter(cmd: Command): (line: string) => void {
  const writeErr = rootOf(cmd).configureOutput().writeErr ?? ((text: string) => process.stderr.write(text));
  return (line) => writeErr(`roo-sync: ${line}\n`);
}

function rootOf(cmd: Command): Command {
  let root = cmd;
  while (root.parent) root = root.parent;
  return root;
}

/**
 * Reads a secret from stdin: the first line when stdin is a pipe, or typed at a prompt (on
 * stderr) without echo when it is a terminal. Never from argv, so it never shows in `ps`.
 */
export async function readSecretFromStdin(prompt: string): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY) {
    process.stderr.write(prompt);
    return new Promise((resolve, reject) => {
      let value = '';
      stdin.setRawMode(true);
      stdin.resume();
      stdin.setEncoding('utf8');
      const onData = (text: string): void => {
        for (const ch of text) {
          if (ch === '\r' || ch === '\n') return finish();
          if (ch === '\u0003') return finish(new Error('cancelled'));
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      const finish = (err?: Error): void => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        process.stderr.write('\n');
        if (err) reject(err);
        else resolve(value);
      };
      stdin.on('data', onData);
    });
  }
  const parts: Buffer[] = [];
  for await (const part of stdin) parts.push(part as Buffer);
  return Buffer.concat(parts).toString('utf8').split(/\r?\n/, 1)[0] ?? '';
}
