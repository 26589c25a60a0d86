import { usePostgresDatabase } from '../../support/postgres';
import { deleteTestKeys, testRedisUrl, uniquePrefix } from '../../support/redis';
import { blobUploadSuite } from './blob-uploads.suite';

describe('resumable blob uploads (PostgreSQL + Redis)', () => {
  const db = usePostgresDatabase();
  const prefix = uniquePrefix('blob-uploads');
  after(() => deleteTestKeys(prefix));
  blobUploadSuite({ db, flags: () => ({ redisUrl: testRedisUrl(), redisKeyPrefix: prefix }) });
});
