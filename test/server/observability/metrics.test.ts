import assert from 'node:assert/strict';
import { RelayMetrics } from '../../../server/observability/metrics';

/**
 * Checks the Prometheus text exposition format line by line: HELP/TYPE comments, then
 * samples `name{label="value",...} number`, every sample belonging to a declared family.
 * (Prometheus parses values with Go's ParseFloat, so NaN in any case is valid.)
 */
function parseExposition(text: string): Map<string, { type: string; samples: string[] }> {
  const families = new Map<string, { type: string; samples: string[] }>();
  const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*)?\})? (-?[0-9.eE+-]+|[Nn][Aa][Nn]|[+-]Inf)$/;
  assert.ok(text.endsWith('\n'), 'exposition ends with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$/.exec(line);
    if (help) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      families.set(type[1] as string, { type: type[2] as string, samples: [] });
      continue;
    }
    const match = sample.exec(line);
    assert.ok(match, `not a valid sample line: ${line}`);
    const name = match[1] as string;
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
    assert.ok(family, `sample ${name} has no # TYPE`);
    family.samples.push(line);
  }
  return families;
}

describe('RelayMetrics', () => {
  describe('#render', () => {
    it('counts frames recorded between two reads on top of the earlier ones', async () => {
      const metrics = new RelayMetrics();
      metrics.recordFrame('in', 10);
      assert.match(await metrics.render(), /^roo_sync_ws_frames_total\{direction="in"\} 1$/m);
      metrics.recordFrame('in', 5, 3);
      metrics.recordFrame('in', 5, 3);
      const text = await metrics.render();
      assert.match(text, /^roo_sync_ws_frames_total\{direction="in"\} 3$/m);
      assert.match(text, /^roo_sync_ws_bytes_total\{direction="in",encoding="raw"\} 20$/m);
      assert.match(text, /^roo_sync_ws_bytes_total\{direction="in",encoding="compressed"\} 16$/m);
      assert.equal((await metrics.frames.get()).values.find((v) => v.labels.direction === 'in')?.value, 3, 'read through the counter too');
    });

    it('renders valid Prometheus text with every relay metric', async () => {
      const metrics = new RelayMetrics();
      metrics.recordOpen();
      metrics.recordOpen();
      metrics.recordClose(4401);
      metrics.recordFrame('in', 2_000, 600);
      metrics.recordFrame('out', 100);
      metrics.syncLatency.observe(0.03);
      metrics.recordQuery('select', 0.002);
      metrics.recordQuery('select', 0.4, true);
      metrics.recordHttp('GET', '/v1/blobs/:sha256', 200, 0.01);
      metrics.errors.inc({ code: 'RATE_LIMITED' });
      const stats = metrics.cacheStats();
      stats.hit('session');
      stats.hit('session');
      stats.miss('task-list');
      stats.error('task-list');
      metrics.bindRedisHealth(() => true);
      metrics.bindDbPool(() => ({ total: 5, idle: 3, waiting: 1 }));
      metrics.bindCommandQueueDepth(async () => 7);

      const text = await metrics.render();
      const families = parseExposition(text);
      const expected: Record<string, string> = {
        roo_sync_ws_connections: 'gauge',
        roo_sync_ws_connections_opened_total: 'counter',
        roo_sync_ws_closes_total: 'counter',
        roo_sync_ws_frames_total: 'counter',
        roo_sync_ws_bytes_total: 'counter',
        roo_sync_sync_latency_seconds: 'histogram',
        roo_sync_db_query_duration_seconds: 'histogram',
        roo_sync_db_slow_queries_total: 'counter',
        roo_sync_db_pool_connections: 'gauge',
        roo_sync_cache_hits_total: 'counter',
        roo_sync_cache_misses_total: 'counter',
        roo_sync_cache_errors_total: 'counter',
        roo_sync_redis_up: 'gauge',
        roo_sync_redis_configured: 'gauge',
        roo_sync_command_queue_depth: 'gauge',
        roo_sync_http_requests_total: 'counter',
        roo_sync_http_request_duration_seconds: 'histogram',
        roo_sync_errors_total: 'counter',
      };
      for (const [name, type] of Object.entries(expected)) assert.equal(families.get(name)?.type, type, name);

      assert.match(text, /^roo_sync_ws_closes_total\{code="4401"\} 1$/m);
      assert.match(text, /^roo_sync_ws_connections 1$/m);
      assert.match(text, /^roo_sync_ws_connections_opened_total 2$/m);
      assert.match(text, /^roo_sync_db_slow_queries_total\{op="select"\} 1$/m);
      assert.match(text, /^roo_sync_ws_bytes_total\{direction="in",encoding="raw"\} 2000$/m);
      assert.match(text, /^roo_sync_ws_bytes_total\{direction="in",encoding="compressed"\} 600$/m);
      assert.match(text, /^roo_sync_ws_frames_total\{direction="out"\} 1$/m);
      assert.match(text, /^roo_sync_cache_hits_total\{cache="session"\} 2$/m);
      assert.match(text, /^roo_sync_cache_misses_total\{cache="task-list"\} 1$/m);
      assert.match(text, /^roo_sync_cache_errors_total\{cache="task-list"\} 1$/m);
      assert.match(text, /^roo_sync_redis_up 1$/m);
      assert.match(text, /^roo_sync_db_pool_connections\{state="waiting"\} 1$/m);
      assert.match(text, /^roo_sync_command_queue_depth 7$/m);
      assert.match(text, /^roo_sync_http_requests_total\{method="GET",route="\/v1\/blobs\/:sha256",status="200"\} 1$/m);
      assert.match(text, /^roo_sync_sync_latency_seconds_count 1$/m);
      assert.match(text, /^roo_sync_db_query_duration_seconds_bucket\{le="0.0025",op="select"\} 1$/m);
    });

    it('keeps each relay\'s metrics in its own registry', async () => {
      const one = new RelayMetrics();
      const two = new RelayMetrics();
      one.wsConnections.set(3);
      assert.match(await one.render(), /^roo_sync_ws_connections 3$/m);
      assert.match(await two.render(), /^roo_sync_ws_connections 0$/m);
    });

    it('reports Redis as down and not configured until a health probe is bound, and stops after unbinding', async () => {
      const metrics = new RelayMetrics();
      assert.match(await metrics.render(), /^roo_sync_redis_configured 0$/m);
      let up = false;
      const unbind = metrics.bindRedisHealth(() => up);
      assert.match(await metrics.render(), /^roo_sync_redis_up 0$/m);
      up = true;
      assert.match(await metrics.render(), /^roo_sync_redis_up 1$/m);
      unbind();
      assert.match(await metrics.render(), /^roo_sync_redis_up 0$/m);
      assert.match(await metrics.render(), /^roo_sync_redis_configured 0$/m);
    });

    it('adds process metrics and default labels when asked', async () => {
      const metrics = new RelayMetrics({ processMetrics: true, defaultLabels: { instance: 'relay-1' } });
      const text = await metrics.render();
      parseExposition(text);
      assert.match(text, /^roo_sync_process_cpu_user_seconds_total\{instance="relay-1"\} /m);
      assert.match(text, /^roo_sync_ws_connections\{instance="relay-1"\} 0$/m);
    });
  });

  describe('probes', () => {
    it('render the rest when a probe throws, and report Redis down', async () => {
      const metrics = new RelayMetrics();
      metrics.bindRedisHealth(() => { throw new Error('probe bug'); });
      metrics.bindDbPool(async () => { throw new Error('pool gone'); });
      metrics.bindCommandQueueDepth(() => { throw new Error('db down'); });
      const text = await metrics.render();
      assert.match(text, /^roo_sync_redis_up 0$/m);
      assert.match(text, /^roo_sync_command_queue_depth 0$/m);
      parseExposition(text);
    });
  });

  describe('#contentType', () => {
    it('is the Prometheus text format', () => {
      assert.match(new RelayMetrics().contentType, /^text\/plain; version=0\.0\.4/);
    });
  });
});
