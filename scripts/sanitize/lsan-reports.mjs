// Prints the LeakSanitizer reports (from ASAN_OPTIONS log_path files) for memory that one piece of code
// allocated: a leak counts when a frame of its allocation stack is in that code (a source path prefix, as
// the symbolized frames show it, e.g. /repo/native/). node frees little of its own heap at exit, and its
// whole call chain runs through node frames, so neither a suppression nor "any node frame" can separate the
// addon's leaks from node's; the allocation site can.
//
// One exception: node's bookkeeping for an external value (frame #1 napi_create_external) that is still
// alive at exit is node's, not a leak: node does not collect the heap or run pending finalizers at exit.
// A reference the addon forgets to delete keeps its external alive too, but that reference is its own
// allocation (napi_create_reference from the addon's frames) and still counts.
//
// Only direct leaks are judged. An indirect leak is reachable from a direct one: from the addon's (which
// fails the run already) or from node's (such as an addon object held by node's record of a live external,
// which is node's exit behaviour, not a leak of the addon's).
//
//   node scripts/sanitize/lsan-reports.mjs <source path prefix> <log files...>    exit 1 if any were found
import { readFileSync } from 'node:fs';

const [ours, ...files] = process.argv.slice(2);
if (!ours) {
  console.error('usage: lsan-reports.mjs <source path prefix> <log files...>');
  process.exit(2);
}
let found = 0;
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  // Each leak is a paragraph: "Direct leak of N byte(s) in M object(s) allocated from:" and its frames.
  for (const block of text.split(/\n\s*\n/)) {
    if (!/^Direct leak of /m.test(block)) continue;
    const frames = [...block.matchAll(/^\s+#(\d+) .*$/gm)].map((m) => m[0]);
    if (!frames.some((f) => f.includes(ours))) continue;
    if (frames.find((f) => /^\s+#1 /.test(f))?.includes(' napi_create_external ')) continue;
    found++;
    process.stdout.write(`${file}:\n${block.trim()}\n\n`);
  }
}
process.exit(found > 0 ? 1 : 0);
