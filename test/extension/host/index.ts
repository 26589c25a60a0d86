/**
 * The suite index the extension host loads (`extensionTestsPath`), the standard `run()` that
 * `@vscode/test-electron` also calls: runs every `*.host-test.js` bundled beside it, or the
 * ones a run shim names (see test/extension/support/host-suites.ts), and rejects when a test
 * fails so the host exits with code 1.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setHostParams, type HostParams } from './host-params';

interface MochaRunner {
  on(event: string, listener: (...args: unknown[]) => void): void;
}
interface MochaInstance {
  addFile(file: string): void;
  loadFilesAsync(): Promise<void>;
  run(done: (failures: number) => void): MochaRunner;
}
type MochaClass = new (options: Record<string, unknown>) => MochaInstance;

function loadMocha(): MochaClass {
  // Mocha 12 is an ES module; Node 20.19+ loads it through require.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require('mocha') as MochaClass | { default: MochaClass };
  return 'default' in mod ? mod.default : mod;
}

/** Runs the named suites (file names beside this index) with `params`; every one beside it when none are named. */
export async function runSuites(suites?: readonly string[], params: HostParams = {}): Promise<void> {
  setHostParams(params);
  const Mocha = loadMocha();
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: params.timeoutMs ?? 60_000, reporter: 'spec' });
  const files = suites ?? readdirSync(__dirname).filter((f) => f.endsWith('.host-test.js')).sort();
  for (const file of files) mocha.addFile(join(__dirname, file));
  await mocha.loadFilesAsync();
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(`${failures} extension-host test(s) failed`);
}

/**
 * The suites that need nothing from a Node side (no relay, no driver): what `run()` runs when
 * VS Code itself loads this index (`npm run test:extension:electron`).
 */
export const STANDALONE_SUITES = ['activation.host-test.js', 'fixture-assistant.host-test.js'];

/** The entry point VS Code calls in test mode. */
export function run(): Promise<void> {
  return runSuites(STANDALONE_SUITES);
}
