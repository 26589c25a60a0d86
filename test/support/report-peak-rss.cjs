// Preloaded (node --require) into a process a benchmark measures: on exit, writes the process's
// peak resident set size in MB to the file named by ROO_SYNC_BENCH_RSS_FILE.
'use strict';
const fs = require('node:fs');
process.on('exit', () => {
  const file = process.env.ROO_SYNC_BENCH_RSS_FILE;
  if (file) fs.writeFileSync(file, String(process.resourceUsage().maxRSS / 1024));
});
