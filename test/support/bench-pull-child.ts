/**
 * Device side of the relay pull benchmark (test/bench/relay-pull.bench.ts), in its own process
 * as a real device is: its decoding and garbage do not share the relay's event loop and heap.
 *
 * argv: relay ws URL, JSON of the device `{deviceId, token}`, JSON array of cursors, page
 * size, number of warm-up pulls, codecs (comma-separated). Prints `{"times":[ms...]}` (the
 * round trips after the warm-up) and exits 0; exits 1 on a bad page.
 */
import { performance } from 'node:perf_hooks';
import type { CodecName } from '../../core/protocol/messages';
import { BenchWsClient } from './bench-ws-client';

async function main(): Promise<void> {
  const [url, deviceJson, cursorsJson, pageArg, warmupArg, codecsArg] = process.argv.slice(2);
  const cursors = JSON.parse(cursorsJson!) as number[];
  const page = Number(pageArg);
  const warmup = Number(warmupArg);
  const client = await BenchWsClient.connect(url!, JSON.parse(deviceJson!), codecsArg!.split(',') as CodecName[]);
  const times: number[] = [];
  for (let i = 0; i < cursors.length; i++) {
    const started = performance.now();
    const reply = await client.request({ type: 'pull', cursor: cursors[i], limit: page });
    const ms = performance.now() - started;
    if (reply.type !== 'changes' || reply.changes.length !== page) throw new Error(`bad page: ${JSON.stringify(reply).slice(0, 200)}`);
    if (i >= warmup) times.push(ms);
  }
  await client.close();
  process.stdout.write(`${JSON.stringify({ times })}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`pull child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
