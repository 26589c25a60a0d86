/**
 * Mocha hooks for tests that run suites inside real extension hosts: one Chromium for the file,
 * code-servers started on demand (each with its own folders under one temp dir), everything
 * torn down after the file (servers by process group, then the browser, then the folders).
 */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostParams } from '../host/host-params';
import { buildForHost, FIXTURE_ASSISTANT_VSIX, HOST_SUITES_DIR, REPO_ROOT, writeRunShim } from './build';
import { startCodeServer, type CodeServer } from './code-server';
import { HostDriver } from './host-driver';
import { Workbench, type WorkbenchResult } from './workbench';

export interface HostRun {
  /** Suites to run, e.g. `['activation.host-test']`; none: the standard `run()` of index.js, as test-electron loads it. */
  suites?: string[];
  params?: HostParams;
  /** The folder the window opens. Default: the server's own `workspace` folder. */
  folder?: string;
  timeoutMs?: number;
  /** Keep the browser's storage (SecretStorage) between runs with this key (see WorkbenchRun). */
  browserStateKey?: string;
}

/** A host kept running for a whole test file, acting on the steps the Node side sends. */
export interface DrivenHost {
  name: string;
  server: CodeServer & { runDir: string; workspace: string };
  /** Runs a driver action in the host (see test/extension/host/driver.host-test.ts). */
  call<T = unknown>(action: string, ...args: unknown[]): Promise<T>;
  /** Runs a roo-sync (or any) command in the host. */
  command<T = unknown>(id: string, ...args: unknown[]): Promise<T>;
  /** Calls the fixture assistant's API (or one of its `fixture` helpers) in the host. */
  fixture<T = unknown>(method: string, ...args: unknown[]): Promise<T>;
  /** The assistant's store folder on this "machine". */
  rooStore: string;
}

export interface ExtensionHosts {
  /** Starts a code-server and keeps one extension host on it running the step driver until the file ends. */
  startDriven(name: string, options?: { env?: Record<string, string>; withFixture?: boolean; browserStateKey?: string }): Promise<DrivenHost>;
  /** Ends a driven host's suite (its page closes, its extension host ends). */
  finishDriven(host: DrivenHost): Promise<void>;
  /** Starts another driven host on a server that already ran one (same user data, as after a window reload). */
  restartDriven(host: DrivenHost, name: string): Promise<DrivenHost>;
  /**
   * A new code-server with its own user-data folder (a separate "machine"), with the fixture
   * assistant installed under Roo Code's id unless `withFixture` is false.
   */
  startServer(name: string, options?: { env?: Record<string, string>; withFixture?: boolean }): Promise<CodeServer & { runDir: string; workspace: string }>;
  /** Runs suites in a fresh extension host of `server`; rejects with the host's log unless every test passed. */
  run(server: CodeServer & { workspace: string }, run?: HostRun): Promise<WorkbenchResult>;
}

let shims = 0;

/** Mocha hooks around an ExtensionHostPool for one test file. */
export function useExtensionHosts(): ExtensionHosts {
  const pool = new ExtensionHostPool();
  before(async function () {
    this.timeout(120_000);
    await pool.open();
  });
  after(async function () {
    this.timeout(60_000);
    await pool.close();
  });
  return pool.hosts;
}

/**
 * One Chromium, code-servers on demand, the step driver; `close()` ends them all (driven hosts,
 * then servers by process group, then the browser, then the folders). Used by the tests
 * (through useExtensionHosts) and by the benchmarks.
 */
export class ExtensionHostPool {
  private readonly workbench = new Workbench();
  private readonly servers: CodeServer[] = [];
  private readonly driver = new HostDriver();
  private readonly drivenRuns = new Map<string, Promise<unknown>>();
  private root: string | undefined;
  readonly hosts: ExtensionHosts = this.makeHosts();

  async open(): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'roo-sync-ext-'));
    await Promise.all([buildForHost(), this.workbench.launch(), this.driver.start()]);
  }

  async close(): Promise<void> {
    await this.driver.close();
    // A driven host whose suite failed has said so in its test already; here only wait for it.
    await Promise.allSettled(this.drivenRuns.values());
    await Promise.all(this.servers.map((s) => s.stop()));
    await this.workbench.close();
    // ROO_SYNC_KEEP_HOST_DIRS=1 keeps the servers' folders (logs, output channels, stores) to look at.
    if (this.root && process.env['ROO_SYNC_KEEP_HOST_DIRS'] === '1') console.log(`kept the extension hosts' folders in ${this.root}`);
    else if (this.root) await rm(this.root, { recursive: true, force: true });
  }

  private makeHosts(): ExtensionHosts {
    const { workbench, servers, driver, drivenRuns } = this;
    const pool = this;
    const drive = async (server: CodeServer & { runDir: string; workspace: string }, name: string, browserStateKey: string): Promise<DrivenHost> => {
      const run = hosts.run(server, { suites: ['driver.host-test'], params: { driverUrl: driver.url, hostName: name }, timeoutMs: 60 * 60_000, browserStateKey });
      drivenRuns.set(name, run);
      await Promise.race([driver.ready(name), run.then(() => Promise.reject(new Error(`host ${name} ended before it was driven`)))]);
      const call = <T>(action: string, ...args: unknown[]) => driver.call<T>(name, action, ...args);
      return {
        name,
        server,
        call,
        command: <T>(id: string, ...args: unknown[]) => call<T>('command', id, ...args),
        fixture: <T>(method: string, ...args: unknown[]) => call<T>('fixture', method, ...args),
        rooStore: join(server.userDataDir, 'User', 'globalStorage', 'rooveterinaryinc.roo-cline'),
      };
    };
    const hosts: ExtensionHosts = {
      async startDriven(name, options = {}) {
        const server = await hosts.startServer(name, options);
        return drive(server, name, options.browserStateKey ?? name);
      },
      async finishDriven(host) {
        driver.finish(host.name);
        await drivenRuns.get(host.name);
      },
      async restartDriven(host, name) {
        await hosts.finishDriven(host);
        return drive(host.server, name, host.name);
      },
      async startServer(name, options = {}) {
        const runDir = join(pool.root!, name);
        const workspace = join(runDir, 'workspace');
        await mkdir(workspace, { recursive: true });
        const server = await startCodeServer({ runDir, env: { ROO_SYNC_TEST_HOOKS: '1', ...options.env } });
        servers.push(server);
        if (options.withFixture !== false) await server.installExtension(FIXTURE_ASSISTANT_VSIX);
        return Object.assign(server, { runDir, workspace });
      },
      async run(server, run = {}) {
        const testsPath = run.suites ? await writeRunShim(`${process.pid}-${++shims}`, run.suites, run.params ?? {}) : join(HOST_SUITES_DIR, 'index.js');
        const result = await workbench.run(server, { folder: run.folder ?? server.workspace, extensionPaths: [REPO_ROOT], testsPath, timeoutMs: run.timeoutMs, ...(run.browserStateKey ? { browserStateKey: run.browserStateKey } : {}) });
        if (result.exitCode !== 0) throw new Error(`extension-host suites ${run.suites?.join(', ') ?? 'of index.js'} failed (exit ${result.exitCode}); host log:\n${result.log.join('\n')}`);
        return result;
      },
    };
    return hosts;
  }
}
