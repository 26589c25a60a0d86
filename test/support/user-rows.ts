/**
 * Which rows of the schema belong to a user, found from the catalog (pg_catalog) rather than a
 * hand-written list, so a table added by a later migration is covered without touching tests.
 *
 * A row belongs to user U when it is U's `users` row, has a `user_id` column equal to U, or
 * references (by any foreign key) a row that belongs to U: devices, sessions, conversations,
 * and so on down the foreign-key graph (messages hang off conversations, upload pieces off
 * uploads, audit rows off devices). Rows are identified by their primary key (or, for a table
 * without one, by the whole row), so they can be looked for again after the parents are gone.
 * Works on PostgreSQL and PGlite.
 */
import type { Queryable } from '../../server/db/database';

export interface UserTable {
  name: string;
  /** SQL (over alias `t`) true for the rows that belong to the user bound as $1. */
  ownedBy: string;
  /** SQL (over alias `t`) for a row's identity, as text. */
  key: string;
}

export interface SchemaUserTables {
  /** Tables that can hold a user's rows. */
  tables: UserTable[];
  /** Tables that cannot (no user_id column and no foreign-key path to users). */
  unlinked: string[];
}

interface ForeignKey {
  table: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
}

const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/** Reads the current schema's tables, columns, primary keys and foreign keys. */
export async function userTables(db: Queryable): Promise<SchemaUserTables> {
  const tables = (
    await db.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c
        WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1`,
    )
  ).rows.map((r) => r.name);
  const columns = (
    await db.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()`,
    )
  ).rows;
  const userIdTables = new Set(columns.filter((c) => c.column_name === 'user_id').map((c) => c.table_name));
  const primaryKeys = new Map<string, string[]>();
  for (const row of (
    await db.query<{ table_name: string; column_name: string }>(
      `SELECT c.relname AS table_name, a.attname AS column_name
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE i.indisprimary AND c.relnamespace = current_schema()::regnamespace
        ORDER BY c.relname, k.ord`,
    )
  ).rows) {
    primaryKeys.set(row.table_name, [...(primaryKeys.get(row.table_name) ?? []), row.column_name]);
  }
  const byConstraint = new Map<string, ForeignKey>();
  for (const row of (
    await db.query<{ name: string; table_name: string; ref_table: string; column_name: string; ref_column: string }>(
      `SELECT con.conname AS name, c.relname AS table_name, rc.relname AS ref_table, a.attname AS column_name, ra.attname AS ref_column
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_class rc ON rc.oid = con.confrelid
         JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(attnum, refattnum, ord) ON true
         JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
         JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.refattnum
        WHERE con.contype = 'f' AND con.connamespace = current_schema()::regnamespace
        ORDER BY c.relname, con.conname, k.ord`,
    )
  ).rows) {
    const id = `${row.table_name}.${row.name}`;
    const fk = byConstraint.get(id) ?? { table: row.table_name, columns: [], refTable: row.ref_table, refColumns: [] };
    fk.columns.push(row.column_name);
    fk.refColumns.push(row.ref_column);
    byConstraint.set(id, fk);
  }
  const foreignKeys = [...byConstraint.values()];

  /** The ownership predicate of `table` over `alias`, or undefined when none of its rows can be a user's. */
  const predicate = (table: string, alias: string, path: string[]): string | undefined => {
    if (path.includes(table)) return undefined;
    const terms: string[] = [];
    if (table === 'users') terms.push(`${alias}.id = $1::uuid`);
    if (userIdTables.has(table)) terms.push(`${alias}.user_id = $1::uuid`);
    for (const fk of foreignKeys.filter((f) => f.table === table)) {
      const parent = `p${path.length + 1}`;
      const inner = predicate(fk.refTable, parent, [...path, table]);
      if (!inner) continue;
      const join = fk.columns.map((c, i) => `${parent}.${ident(fk.refColumns[i]!)} = ${alias}.${ident(c)}`).join(' AND ');
      terms.push(`EXISTS (SELECT 1 FROM ${ident(fk.refTable)} ${parent} WHERE ${join} AND (${inner}))`);
    }
    return terms.length > 0 ? terms.join(' OR ') : undefined;
  };

  const result: SchemaUserTables = { tables: [], unlinked: [] };
  for (const name of tables) {
    const ownedBy = predicate(name, 't', []);
    if (!ownedBy) {
      result.unlinked.push(name);
      continue;
    }
    const pk = primaryKeys.get(name);
    const key = pk ? `jsonb_build_array(${pk.map((c) => `t.${ident(c)}`).join(', ')})::text` : 'to_jsonb(t)::text';
    result.tables.push({ name, ownedBy, key });
  }
  return result;
}

/** The identities of `userId`'s rows, per table (every table of `tables`, empty ones included). */
export async function userRowKeys(db: Queryable, tables: UserTable[], userId: string): Promise<Record<string, string[]>> {
  const keys: Record<string, string[]> = {};
  for (const table of tables) {
    const { rows } = await db.query<{ k: string }>(`SELECT ${table.key} AS k FROM ${ident(table.name)} t WHERE ${table.ownedBy} ORDER BY 1`, [userId]);
    keys[table.name] = rows.map((r) => r.k);
  }
  return keys;
}

/**
 * Per table, how many rows are still there that belonged to `userId` when `before` was taken
 * (`userRowKeys`), or belong to it now (a row pointing at a user id that is gone).
 */
export async function remainingUserRows(
  db: Queryable,
  tables: UserTable[],
  userId: string,
  before: Record<string, string[]>,
): Promise<Record<string, number>> {
  const left: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${ident(table.name)} t WHERE ${table.key} = ANY($2::text[]) OR ${table.ownedBy}`,
      [userId, before[table.name] ?? []],
    );
    left[table.name] = rows[0]!.n;
  }
  return left;
}
