/**
 * The device's own process: dist/device-worker.js started with `child_process.fork` (Node, or
 * Electron run as Node inside desktop VS Code), talking to the extension host over the IPC
 * channel with structured-clone serialisation, at a lower scheduling priority than the host.
 *
 * Why a process and not a worker thread: measured in the extension bench, a worker thread's
 * first sync still stalled the host's main thread through what a thread shares with it. V8's
 * platform threads are shared, so the worker's garbage collection lengthened the main isolate's
 * own GC pauses (stalls of 100-390 ms that were GC of the main thread, with roo-sync's own
 * main-thread code at 18 ms in 113 s), and the worker's heap made the host's RSS large, so each
 * child VS Code spawns from the host (its port finder runs `ls` and `ps` every few seconds)
 * took 100-200 ms to fork. A process shares none of that.
 *
 * Its priority: the process lowers every thread of its own to nice 10 as it starts
 * (process-priority.ts), and it stays in the host's session. On Linux the kernel schedules a
 * session's processes as one group (autogroup), and nice values order the threads inside a group:
 * so when the host wakes it runs before the device, and against the rest of the machine the two
 * count as VS Code, as the assistant does.
 */
import { fork, type ChildProcess } from 'node:child_process';

export interface DeviceProcessEvents<In> {
  message(message: In): void;
  /** The process ended (a crash, a kill, or after close); `code` null when a signal ended it. */
  exit(code: number | null, signal: NodeJS.Signals | null): void;
  /** A line the process wrote on stderr (a crash trace, a warning of Node's). */
  stderr(line: string): void;
}

export class DeviceProcess<Out, In> {
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private ended = false;

  constructor(scriptPath: string, events: DeviceProcessEvents<In>) {
    this.child = fork(scriptPath, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // The host's own flags (an inspector port, heap limits) are not the device's.
      execArgv: [],
      // Inside desktop VS Code process.execPath is Electron: run it as plain Node.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    });
    this.child.on('message', (message: In) => events.message(message));
    let pending = '';
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) events.stderr(line);
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.ended = true;
        if (pending.trim()) events.stderr(pending);
        events.exit(code, signal);
        resolve();
      });
      // A fork that could not start reports 'error' and may never emit 'exit'.
      this.child.once('error', (error) => {
        if (this.ended) return;
        this.ended = true;
        events.stderr(`the device process failed: ${error.message}`);
        events.exit(null, null);
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends a message; false when the process has ended or its channel is closed. */
  send(message: Out): boolean {
    if (this.ended || !this.child.connected) return false;
    this.child.send(message as object);
    return true;
  }

  /**
   * Ends the process and waits for it: closes the IPC channel (the process then closes its
   * device and exits), and kills it if it is still there after `graceMs`. Idempotent.
   */
  async end(graceMs = 10_000): Promise<void> {
    if (!this.ended) {
      if (this.child.connected) this.child.disconnect();
      else this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }
}
