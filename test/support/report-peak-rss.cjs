// Preloaded (node --require) into a process a benchmark measures: on exit, writes the process's
// peak resident set size in MB to the file named by ROO_SYNC_BENCH_RSS_FILE, and its user and
// system CPU seconds (`{"user":..,"system":..}`) to the file named by ROO_SYNC_BENCH_CPU_FILE.
'use strict';
const fs = require('node:fs');
process.on('exit', () => {
  const usage = process.resourceUsage();
  const file = process.env.ROO_SYNC_BENCH_RSS_FILE;
  if (file) fs.writeFileSync(file, String(usage.maxRSS / 1024));
  const cpuFile = process.env.ROO_SYNC_BENCH_CPU_FILE;
  if (cpuFile) fs.writeFileSync(cpuFile, JSON.stringify({ user: usage.userCPUTime / 1e6, system: usage.systemCPUTime / 1e6 }));
});
