/**
 * Client side of the 10k-connections benchmark, in its own process so its memory is not
 * counted as the relay's: opens one sync socket per device listed in a JSON file (argv[3]) to
 * the relay at argv[2], says hello on each, prints `{"connected":N,"failed":M}` once all are
 * welcomed, and closes everything when stdin ends.
 */
import { readFileSync } from 'node:fs';
import { BenchWsClient } from './bench-ws-client';

async function main(): Promise<void> {
  const url = process.argv[2]!;
  const devices = JSON.parse(readFileSync(process.argv[3]!, 'utf8')) as Array<{ deviceId: string; token: string }>;
  const clients: BenchWsClient[] = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < devices.length) {
      const device = devices[next++]!;
      try {
        clients.push(await BenchWsClient.connect(url, device, ['deflate', 'none']));
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: 100 }, worker));
  process.stdout.write(`${JSON.stringify({ connected: clients.length, failed })}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const client of clients) void client.close();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`connect child failed: ${String(err)}\n`);
  process.exitCode = 1;
});
