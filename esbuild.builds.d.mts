/** Types of esbuild.builds.mjs (the bundles' esbuild options, used from TypeScript tests and benchmarks). */
import type { BuildOptions } from 'esbuild';
export const extensionBuild: BuildOptions;
export const deviceWorkerBuild: BuildOptions;
export const cliBuild: BuildOptions;
export const builds: BuildOptions[];
