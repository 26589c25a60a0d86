/** The protocol conformance suite against the real relay on PostgreSQL + Redis (fresh database, own key prefix). */
import { runProtocolConformance } from '../../conformance/protocol-conformance';
import { createTestDatabase } from '../../support/postgres';
import { connectTestRedis, deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from '../../support/redis';
import { conformanceEnv, startRelayUnderTest } from '../../support/relay-under-test';

runProtocolConformance('relay (startRelayServer) on PostgreSQL with Redis', async (options) => {
  const testDb = await createTestDatabase();
  const redis = await connectTestRedis();
  const prefix = uniquePrefix('sync-conformance');
  const env = { ...conformanceEnv(options), DATABASE_URL: testDb.url, REDIS_URL: testRedisUrl(), REDIS_KEY_PREFIX: prefix };
  const relayUnderTest = await startRelayUnderTest(env, {}, async () => {
    await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
    await testDb.drop();
  });
  if (!(await (await fetch(`${relayUnderTest.relay.url}/readyz`)).json() as { status: string }).status.startsWith('ready')) {
    await relayUnderTest.close();
    throw new Error('the relay is not ready on PostgreSQL + Redis');
  }
  return relayUnderTest;
});
