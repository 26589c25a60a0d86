/** Types of web/build-web.mjs (the web page's build, used from TypeScript tests and benchmarks). */
export interface BuiltFile {
  /** Path relative to the output folder. */
  path: string;
  bytes: number;
  brotliBytes: number;
}
export function buildWeb(options: { outDir: string; minify?: boolean; logLevel?: 'silent' | 'error' | 'warning' | 'info' | 'debug' | 'verbose' }): Promise<{ files: BuiltFile[] }>;
