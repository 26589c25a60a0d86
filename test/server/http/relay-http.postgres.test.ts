import { usePostgresDatabase } from '../../support/postgres';
import { deleteTestKeys, testRedisUrl, uniquePrefix } from '../../support/redis';
import { relayHttpSuite } from './relay-http.suite';

describe('relay HTTP API (PostgreSQL + Redis)', () => {
  const db = usePostgresDatabase();
  const prefix = uniquePrefix('relay-http');
  after(() => deleteTestKeys(prefix));
  relayHttpSuite({ db, flags: () => ({ redisUrl: testRedisUrl(), redisKeyPrefix: prefix }) });
});
