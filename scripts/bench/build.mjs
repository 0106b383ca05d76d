// Builds the bench runner: transpiles scripts/bench/*.ts one file at a time (no typecheck: `npm run
// typecheck` and the test suite's pretest check these files with the rest of the tree) into bench/out/js/,
// which is gitignored. Takes well under a second, so the test smoke can build it every time.
// The modules under test are not built here: the runner loads them from dist/ (`npm run build`).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));

/** Transpiles every .ts file of scripts/bench into outDir; returns the files written. */
export function buildBench(outDir = join(here, '..', '..', 'bench', 'out', 'js')) {
  mkdirSync(outDir, { recursive: true });
  const written = [];
  for (const name of readdirSync(here)) {
    if (!name.endsWith('.ts') || name.endsWith('.d.ts')) continue;
    const source = readFileSync(join(here, name), 'utf8');
    const out = ts.transpileModule(source, {
      fileName: name,
      reportDiagnostics: true,
      compilerOptions: {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.ESNext,
        sourceMap: false,
      },
    });
    const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length > 0) {
      const msg = errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n');
      throw new Error(`bench build: ${name}: ${msg}`);
    }
    const file = join(outDir, name.replace(/\.ts$/, '.js'));
    writeFileSync(file, out.outputText);
    written.push(file);
  }
  return written;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  buildBench();
}
