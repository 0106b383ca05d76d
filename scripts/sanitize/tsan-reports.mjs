// Prints the ThreadSanitizer reports (from TSAN_OPTIONS log_path files) that involve one module: a report
// counts when one of the top two frames of one of its stacks is the module's own code (node-addon-api's
// inline glue, napi-inl.h, does not count: V8 work that happens to run inside an addon call, such as a
// GC job, shows it at frame #2 or below). Node itself is not instrumented, so TSan also reports races
// inside node and V8 whose synchronisation it cannot see; those are not ours to fix and would drown the
// addon's, hence the filter. Exit status 1 if any were found.
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
    const topFrames = [...report.matchAll(/^\s+#[01] .*$/gm)].map((m) => m[0]);
    if (topFrames.some((f) => f.includes(module) && !f.includes('napi-inl.h'))) {
      found++;
      process.stdout.write(`${report.trim()}\n==================\n`);
    }
  }
}
process.exit(found > 0 ? 1 : 0);
