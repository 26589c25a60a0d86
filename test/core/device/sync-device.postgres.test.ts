import { usePostgresDatabase } from '../../support/postgres';
import { deleteTestKeys, testRedisUrl, uniquePrefix } from '../../support/redis';
import { syncDeviceSuite } from './sync-device.suite';

describe('SyncDevice on a real relay (PostgreSQL + Redis)', () => {
  const db = usePostgresDatabase();
  const prefix = uniquePrefix('sync-device');
  after(() => deleteTestKeys(prefix));
  syncDeviceSuite({ db, flags: () => ({ redisUrl: testRedisUrl(), redisKeyPrefix: prefix }) });
});
