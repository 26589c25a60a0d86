/**
 * Entry of a real relay child process for crash tests (until `roo-sync server` runs the relay):
 * configuration from the environment exactly as the server reads it (DATABASE_URL, DATA_DIR,
 * REDIS_URL, PORT, LOG_LEVEL, ...), sign-up allowed, compaction off. Prints one JSON line
 * `{"port":N}` on stdout once it listens. Tests stop it with SIGKILL by PID.
 */
import { loadRelayConfig } from '../../server/config/load-config';
import { startRelayServer } from '../../server/relay-server';

async function main(): Promise<void> {
  const config = loadRelayConfig({ env: process.env });
  const relay = await startRelayServer(config, {}, { allowSignup: true, compactionIntervalMs: 0 });
  process.stdout.write(`${JSON.stringify({ port: relay.port })}\n`);
  // Benchmarks measuring memory ask for steady collections (node --expose-gc).
  const gc = (globalThis as { gc?: () => void }).gc;
  if (process.env.RELAY_CHILD_GC_MS && gc) setInterval(gc, Number(process.env.RELAY_CHILD_GC_MS)).unref();
}

main().catch((err: unknown) => {
  process.stderr.write(`relay child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
