import { usePostgresDatabase } from '../../support/postgres';
import { deleteTestKeys, testRedisUrl, uniquePrefix } from '../../support/redis';
import { loginLimitsSuite } from './login-limits.suite';

describe('login rate limit over HTTP (PostgreSQL + Redis)', () => {
  const db = usePostgresDatabase();
  const prefix = uniquePrefix('login-limits');
  after(() => deleteTestKeys(prefix));
  loginLimitsSuite({ db, flags: () => ({ redisUrl: testRedisUrl(), redisKeyPrefix: prefix }) });
});
