/**
 * Times statements for both adapters and feeds the `QueryObserver` hooks (metrics, slow-query
 * log). Hooks get the statement text only, never parameter values; a throwing hook is ignored.
 */
import type { QueryObserver } from './database';

/** The slow-query threshold of a Database opened without one: the relay's documented default (DB_SLOW_QUERY_MS). */
export const DEFAULT_SLOW_QUERY_MS = 200;

export type StatementTimer = (sql: string) => () => void;

/** Returns `start(sql)`, which returns `stop()`; `stop` reports the elapsed time to the hooks. */
export function statementTimer(observer: QueryObserver | undefined): StatementTimer {
  const onQuery = observer?.onQuery;
  const onSlowQuery = observer?.onSlowQuery;
  if (!onQuery && !onSlowQuery) return () => noop;
  const threshold = observer?.slowQueryMs ?? DEFAULT_SLOW_QUERY_MS;
  return (sql) => {
    const started = process.hrtime.bigint();
    return () => {
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      try {
        onQuery?.(durationMs, sql);
        if (onSlowQuery && durationMs >= threshold) onSlowQuery({ durationMs, sql: compactSql(sql) });
      } catch {
        // An observer must never break a query.
      }
    };
  };
}

/** One line, bounded: good for a log record. */
export function compactSql(sql: string): string {
  const line = sql.replace(/\s+/g, ' ').trim();
  return line.length > 1000 ? `${line.slice(0, 1000)}...` : line;
}

function noop(): void {}
