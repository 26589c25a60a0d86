/** Small hooks shared by the views. */
import { useEffect, useState } from 'preact/hooks';

/** The location hash as a route: `#/task/<source>/<id>` -> ['task', source, id]. */
export function useHashRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const update = () => setRoute(read());
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}

/** Re-renders the calling component whenever `subscribe`'s source says it changed. */
export function useSubscription(subscribe: ((listener: () => void) => () => void) | undefined): void {
  const [, setTick] = useState(0);
  useEffect(() => (subscribe ? subscribe(() => setTick((n) => n + 1)) : undefined), [subscribe]);
}

/** `value`, settled for `ms` milliseconds. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}

/** A readable text of an error (its code first when it has one). */
export function errorText(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' ? `${code}: ${message}` : message;
}
