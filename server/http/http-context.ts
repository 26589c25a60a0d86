/**
 * What the HTTP handlers need, built once by the composition root (server/relay-server.ts).
 */
import type { AuthService } from '../auth/auth-service';
import type { SessionValidator } from '../auth/access-tokens';
import type { RelayConfig } from '../config/relay-config';
import type { Database } from '../db/database';
import type { Logger } from '../observability/logger';
import type { RelayMetrics } from '../observability/metrics';
import type { TaskList } from '../tasks/task-list';
import type { ProxyTrust } from './trusted-proxies';
import type { WebAssets } from './web-assets';

export interface HttpContext {
  db: Database;
  sessions: SessionValidator;
  auth: AuthService;
  config: RelayConfig;
  metrics: RelayMetrics;
  /** Cached task list and metadata reads (GET /v1/tasks). */
  tasks: TaskList;
  logger: Logger;
  /** `redis` or `memory`, and whether it answers now (for /readyz). */
  cache: { kind: 'redis' | 'memory'; healthy(): boolean };
  /** POST /v1/users creates accounts only when true (`--allow-signup`). */
  allowSignup: boolean;
  /** Which peers may name the client in X-Forwarded-For (server/http/trusted-proxies.ts). */
  trustProxy: ProxyTrust;
  /** The local administration token (embedded relay only, admin-access.ts); undefined: no admin route. */
  adminToken?: string;
  /** The built web page served at `/` (undefined: `/` answers WEB_NOT_BUILT). */
  web?: WebAssets;
  /** True once shutdown began: /readyz answers 503 so a load balancer stops sending. */
  shuttingDown(): boolean;
}
