/**
 * The README's example runs as written, on the simulator: the ```ts block under <!-- section:example -->
 * is taken from README.md and type-checked as strict TypeScript against src/index.ts (its `'kfd-svm'`
 * import pointed there); its one import line is checked against the package's public entry, and the rest
 * is transpiled and run as the body of an async function with `open` bound to that entry.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import ts from 'typescript';
import * as api from '../../../src/index.js';

const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8');

export function exampleBlock(text: string): string {
  const at = text.indexOf('<!-- section:example -->');
  if (at < 0) throw new Error('README.md has no example section');
  const m = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  if (!m?.[1]) throw new Error('no ```ts block in the example section');
  return m[1];
}

let env: string | undefined;
beforeEach(() => {
  env = process.env.KFD_SVM_BACKEND;
  process.env.KFD_SVM_BACKEND = 'sim';
});
afterEach(() => {
  if (env === undefined) delete process.env.KFD_SVM_BACKEND;
  else process.env.KFD_SVM_BACKEND = env;
  vi.restoreAllMocks();
});

it('the README example runs as written and prints what its comment says', async () => {
  const code = exampleBlock(readme);
  const lines = code.split('\n');
  const imports = lines.filter((l) => l.startsWith('import '));
  expect(imports).toEqual(["import { open } from 'kfd-svm';"]);
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as {
    name: string;
    exports: Record<string, { default: string }>;
  };
  expect(pkg.name).toBe('kfd-svm');
  expect(pkg.exports['.']?.default).toBe('./dist/index.js'); // built from src/index.ts, which we bind here
  const body = lines.filter((l) => !l.startsWith('import ')).join('\n');
  expect(lines.filter((l) => l.trim() && !l.startsWith('import ')).length).toBeLessThanOrEqual(16);

  const js = ts.transpileModule(body, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;

  const printed: unknown[][] = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    printed.push(args);
  });
  const AsyncFunction = Object.getPrototypeOf(async () => undefined).constructor as new (
    ...args: string[]
  ) => (...a: unknown[]) => Promise<unknown>;
  await new AsyncFunction('open', js)(api.open);
  // The comment on the console.log line says: true true 90.
  expect(printed).toEqual([[true, true, 90]]);
});

it('the README example type-checks as strict TypeScript against the public types', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const file = `${root}test/unit/api/readme-example.virtual.ts`;
  const source = exampleBlock(readme).replace("from 'kfd-svm'", `from '${root}src/index.js'`);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, onError, create) =>
    name === file ? ts.createSourceFile(name, source, lang, true) : read(name, lang, onError, create);
  const exists = host.fileExists.bind(host);
  host.fileExists = (name) => name === file || exists(name);
  const program = ts.createProgram([file], options, host);
  const diags = ts.getPreEmitDiagnostics(program).filter((d) => d.file?.fileName === file);
  expect(diags.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
});
