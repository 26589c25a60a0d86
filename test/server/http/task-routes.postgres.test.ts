import { Redis } from 'ioredis';
import type { Database } from '../../../server/db/database';
import { openDatabase } from '../../../server/db/open-database';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from '../../support/redis';
import { taskRoutesSuite } from './task-routes.suite';

describe('relay task routes (PostgreSQL + Redis)', () => {
  let testDb: TestDatabase;
  let db: Database;
  const prefix = uniquePrefix('task-routes');
  before(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ databaseUrl: testDb.url });
  });
  after(async () => {
    await db?.close();
    await testDb?.drop();
    const client = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await client.connect();
      await deleteKeysWithPrefix(client, prefix);
    } finally {
      client.disconnect();
    }
  });
  taskRoutesSuite({ db: () => db, flags: () => ({ redisUrl: testRedisUrl(), redisKeyPrefix: prefix }) });
});
