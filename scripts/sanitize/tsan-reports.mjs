// Prints the ThreadSanitizer reports (from TSAN_OPTIONS log_path files) that involve one module: a report
// counts when any of the top three frames of any of its stacks lies in that module. Node itself is not
// instrumented, so TSan also reports races inside node and V8 that it cannot see the synchronisation of;
// those are not ours to fix and would drown the addon's, hence the filter. Exit status 1 if any were found.
//
//   node scripts/sanitize/tsan-reports.mjs <module name, e.g. kfd_svm.node> <log files...>
import { readFileSync } from 'node:fs';

const [module, ...files] = process.argv.slice(2);
if (!module) {
  console.error('usage: tsan-reports.mjs <module> <log files...>');
  process.exit(2);
}
let found = 0;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  for (const report of text.split(/^==================$/m)) {
    if (!/WARNING: ThreadSanitizer/.test(report)) continue;
    const topFrames = [...report.matchAll(/^\s+#([0-2]) .*$/gm)].map((m) => m[0]);
    if (topFrames.some((f) => f.includes(module))) {
      found++;
      process.stdout.write(`${report.trim()}\n==================\n`);
    }
  }
}
process.exit(found > 0 ? 1 : 0);
