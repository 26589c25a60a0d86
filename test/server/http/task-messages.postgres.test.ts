import { usePostgresDatabase } from '../../support/postgres';
import { deleteTestKeys, testRedisUrl, uniquePrefix } from '../../support/redis';
import { taskMessagesSuite } from './task-messages.suite';

describe('GET /v1/tasks/:source/:taskId/messages (PostgreSQL + Redis)', () => {
  const db = usePostgresDatabase();
  const prefix = uniquePrefix('task-messages');
  after(() => deleteTestKeys(prefix));
  taskMessagesSuite({ db, flags: () => ({ redisUrl: testRedisUrl(), redisKeyPrefix: prefix }) });
});
