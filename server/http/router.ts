/**
 * A small router: method + path pattern -> handler. Path parameters are `:name` segments; the
 * route's pattern (never the raw path) labels metrics. A path that matches with another method
 * answers 405 METHOD_NOT_ALLOWED, an unknown path 404 ROUTE_NOT_FOUND.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SyncError } from '../../core/errors';

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  params: Readonly<Record<string, string>>;
  /** The route pattern (for metrics and logs). */
  route: string;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

interface Route {
  method: string;
  pattern: string;
  regex: RegExp;
  names: string[];
  handler: Handler;
}

export interface Match {
  handler: Handler;
  params: Record<string, string>;
  route: string;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): this {
    const names: string[] = [];
    const source = pattern
      .split('/')
      .map((segment) => {
        if (segment.startsWith(':')) {
          names.push(segment.slice(1));
          return '([^/]+)';
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method, pattern, regex: new RegExp(`^${source}$`), names, handler });
    return this;
  }

  /** The matching route; throws ROUTE_NOT_FOUND or METHOD_NOT_ALLOWED (details.allow). */
  match(method: string, path: string): Match {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.regex.exec(path);
      if (!m) continue;
      if (route.method !== method && !(method === 'HEAD' && route.method === 'GET' && !this.hasExact('HEAD', path))) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.names.forEach((name, i) => {
        params[name] = safeDecode(m[i + 1]!);
      });
      return { handler: route.handler, params, route: route.pattern };
    }
    if (allowed.length > 0) throw new SyncError('METHOD_NOT_ALLOWED', `use ${allowed.join(', ')} here`, { allow: allowed.join(', ') });
    throw new SyncError('ROUTE_NOT_FOUND', 'no such endpoint');
  }

  /** The pattern a path would match under any method (metrics label for errors), else 'unmatched'. */
  label(path: string): string {
    return this.routes.find((r) => r.regex.test(path))?.pattern ?? 'unmatched';
  }

  private hasExact(method: string, path: string): boolean {
    return this.routes.some((r) => r.method === method && r.regex.test(path));
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
