/**
 * PGlite for tests. Creating a PGlite data directory runs initdb (5-10 s here); loading a
 * dumped one takes about 1 s. So the first call on a machine dumps a freshly initialised
 * data directory to a template file in the OS temp dir, and every later call starts from it.
 * Share one instance per suite and reset between tests (`resetDatabase`, `wipeSchema`).
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { Database } from '../../server/db/database';
import { migrate } from '../../server/db/migrator';
import { PgliteDatabase, type PgliteDatabaseOptions } from '../../server/db/pglite-database';
import { resetDatabase } from './postgres';

export { resetDatabase, wipeSchema } from './postgres';

const PGLITE_VERSION: string = (
  JSON.parse(readFileSync(join(dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;
const TEMPLATE = join(tmpdir(), `roo-sync-pglite-template-${PGLITE_VERSION}.tar`);

let template: Promise<Blob> | undefined;

/** A fresh, empty in-memory PGlite database (no migrations applied). The caller closes it. */
export async function openTestPglite(options: Omit<PgliteDatabaseOptions, 'dataDir' | 'loadDataDir'> = {}): Promise<PgliteDatabase> {
  return PgliteDatabase.open({ ...options, loadDataDir: await pgliteTemplate() });
}

/** A freshly initialised data directory as a tarball (PGlite `loadDataDir`), cached on disk. */
export function pgliteTemplate(): Promise<Blob> {
  template ??= loadTemplate();
  return template;
}

async function loadTemplate(): Promise<Blob> {
  if (!existsSync(TEMPLATE)) {
    const pg = await PGlite.create();
    const dump = await pg.dumpDataDir('none');
    await pg.close();
    const partial = `${TEMPLATE}.${process.pid}.partial`;
    writeFileSync(partial, new Uint8Array(await dump.arrayBuffer()));
    renameSync(partial, TEMPLATE);
  }
  return new Blob([readFileSync(TEMPLATE)]);
}

/**
 * Mocha hooks for a suite on the embedded database: a fresh PGlite (from the template, no
 * migrations) opened before the suite and closed after it. Returns its getter. The PGlite
 * counterpart of `usePostgresDatabase`.
 */
export function usePgliteDatabase(): () => PgliteDatabase {
  let db: PgliteDatabase | undefined;
  before(async () => {
    db = await openTestPglite();
  });
  after(async () => {
    await db?.close();
  });
  return () => db!;
}

/**
 * Mocha hooks for a suite on the embedded database: one migrated PGlite for the suite
 * (opened from the template, closed after), emptied before each test. Returns its getter.
 */
export function useMigratedPglite(): () => PgliteDatabase {
  const db = usePgliteDatabase();
  before(async () => {
    await migrate(db());
  });
  beforeEach(async () => {
    await resetDatabase(db());
  });
  return db;
}

/**
 * `db` lent to code that closes what it is given (a CLI command's `open` dependency): its
 * `close()` does nothing, so the suite's shared database stays open.
 */
export function borrowedDatabase(db: Database): Database {
  return new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'close') return async () => undefined;
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
