/**
 * `npm run bench -- socket-cost [--sockets N] [--rounds R]`: what one small frame costs in CPU on
 * each side of a loopback WebSocket, the floor under the load bench's bursts (docs/scaling.md
 * "A burst's CPU"). The relay side writes one 250-byte frame to each of N sockets (3,000), with
 * `ws.send` (header and payload under cork: a writev), with WsFrameWriter (one write of a frame
 * made per socket) and with WsFrameWriter sharing one frame for all sockets (a live page); the
 * peer, in its own process, reads them as `ws` clients or as raw sinks (BenchSinkClient's read
 * path). Each mode runs R rounds (6), interleaved; figures are medians of the rounds, in
 * microseconds of CPU (user + system) per frame.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { createInterface } from 'node:readline';
import WebSocket, { WebSocketServer } from 'ws';
import { WsFrameWriter } from '../../server/sync/ws-frame-writer';
import { median, type Benchmark, type Figure } from './figure';

const CHILD = join(__dirname, '..', 'support', 'bench-socket-child.ts');

function numberArg(args: string[], flag: string, fallback: number): number {
  const at = args.indexOf(flag);
  const value = at >= 0 ? Number(args[at + 1]) : NaN;
  return Number.isFinite(value) && value > 0 ? value : fallback;
}

type WriteMode = 'ws.send' | 'writer' | 'writer-shared';

/** Relay-side and peer-side CPU per frame for each write mode, with the peer reading as `kind`. */
async function measure(kind: 'ws' | 'sink', sockets: number, rounds: number): Promise<Record<WriteMode, { writeUs: number[]; readUs: number[] }>> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const conns: Array<{ ws: WebSocket; writer: WsFrameWriter }> = [];
  http.on('upgrade', (request, socket: Duplex, head) => wss.handleUpgrade(request, socket, head, (ws) => conns.push({ ws, writer: new WsFrameWriter(ws, socket) })));
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, kind, String(port), String(sockets)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const queue: string[] = [];
  let waiter: (() => void) | undefined;
  lines.on('line', (line) => {
    queue.push(line);
    waiter?.();
  });
  lines.on('close', () => waiter?.());
  const nextLine = async (): Promise<string> => {
    while (queue.length === 0) {
      if (child.exitCode !== null || child.stdout!.readableEnded) throw new Error(`socket-cost child ended (${child.exitCode})`);
      await new Promise<void>((resolve) => (waiter = resolve));
    }
    return queue.shift()!;
  };
  const results: Record<WriteMode, { writeUs: number[]; readUs: number[] }> = {
    'ws.send': { writeUs: [], readUs: [] },
    writer: { writeUs: [], readUs: [] },
    'writer-shared': { writeUs: [], readUs: [] },
  };
  try {
    if ((await nextLine()) !== 'READY') throw new Error('socket-cost child did not get ready');
    const deadline = Date.now() + 60_000;
    while (conns.length < sockets) {
      if (Date.now() > deadline) throw new Error(`${conns.length} of ${sockets} sockets upgraded after 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const payload = new Uint8Array(Buffer.alloc(250, 98));
    for (let round = 0; round < rounds; round++) {
      for (const mode of Object.keys(results) as WriteMode[]) {
        child.stdin!.write('start\n');
        await new Promise((resolve) => setTimeout(resolve, 100));
        const framedOnce = new Map<Uint8Array, Buffer>();
        const cpu0 = process.cpuUsage();
        for (const c of conns) {
          if (mode === 'ws.send') c.ws.send(payload);
          else c.writer.send(payload, mode === 'writer-shared' ? framedOnce : undefined);
        }
        const cpu = process.cpuUsage(cpu0);
        // Let the peer read everything before it reports.
        await new Promise((resolve) => setTimeout(resolve, 400));
        child.stdin!.write('stop\n');
        const peer = JSON.parse(await nextLine()) as { frames: number; cpuUs: number };
        if (peer.frames !== sockets) throw new Error(`peer read ${peer.frames} frames of ${sockets}`);
        results[mode].writeUs.push((cpu.user + cpu.system) / sockets);
        results[mode].readUs.push(peer.cpuUs / peer.frames);
      }
    }
    return results;
  } finally {
    child.stdin!.write('exit\n');
    await new Promise((resolve) => child.once('exit', resolve));
    for (const c of conns) c.ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }
}

export const benchmark: Benchmark = {
  name: 'socket-cost',
  async run(args: string[]): Promise<Figure[]> {
    const sockets = numberArg(args, '--sockets', 3000);
    const rounds = numberArg(args, '--rounds', 6);
    const us = (values: number[]): number => Math.round(median(values) * 100) / 100;
    const viaWs = await measure('ws', sockets, rounds);
    const viaSink = await measure('sink', sockets, rounds);
    console.log(`  ${sockets} loopback sockets, one 250-byte frame each, ${rounds} rounds per mode (median us of CPU per frame)`);
    for (const mode of Object.keys(viaWs) as WriteMode[]) {
      console.log(`    relay write ${mode.padEnd(13)} ${us([...viaWs[mode].writeUs, ...viaSink[mode].writeUs]).toFixed(1)} us; peer read as ws client ${us(viaWs[mode].readUs).toFixed(1)} us, as raw sink ${us(viaSink[mode].readUs).toFixed(1)} us`);
    }
    const write = us([...viaWs['writer-shared'].writeUs, ...viaSink['writer-shared'].writeUs]);
    const writeBefore = us([...viaWs['ws.send'].writeUs, ...viaSink['ws.send'].writeUs]);
    const read = us(viaSink['writer-shared'].readUs);
    const readBefore = us(viaWs['writer-shared'].readUs);
    console.log(`    a burst of 1,000 pushes to 9 other devices each: at least ${((9000 * (write + read)) / 1000).toFixed(0)} ms of CPU in fan-out writes and reads alone (${((9000 * (writeBefore + readBefore)) / 1000).toFixed(0)} ms with ws.send and ws clients)`);
    return [
      { name: 'socket.frame_write_us', value: write, unit: 'us', baseline: writeBefore, target: 'none' },
      { name: 'socket.frame_read_us', value: read, unit: 'us', baseline: readBefore, target: 'none' },
    ];
  },
};
