/**
 * The addon in worker_threads: a Worker terminated while an SMI read waits on its thread, an SVM call is in
 * flight and memory is mapped must neither crash nor hang the process, and must leave no fd behind (the
 * read's thread-safe function is finalized at teardown; its finalizer wakes and joins the reader thread,
 * which otherwise would call into a freed thread-safe function). Runs in a child process so a crash fails
 * this test instead of killing the test runner.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/backend/kfd/index.js';

describe('worker_threads', () => {
  it('terminating Workers with a pending SMI read, an SVM call in flight and live mappings is clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kfd-worker-'));
    try {
      const fifo = join(dir, 'events');
      execFileSync('mkfifo', [fifo]);
      const script = `
        const { Worker } = require('node:worker_threads');
        const fs = require('node:fs');
        const fifoFd = fs.openSync(${JSON.stringify(fifo)}, 'r+');
        const src = \`
          const { parentPort, workerData } = require('node:worker_threads');
          const a = require('node-gyp-build')(workerData.root);
          const s = a.smiAdopt(workerData.fd);
          a.smiRead(s).then((t) => parentPort.postMessage('read:' + t));
          const d = a.kfdOpen('/dev/null');
          a.kfdSvmAsync(d, 0, 4096n, 4096n, []).catch(() => {});
          globalThis.keep = [a.memAlloc(1 << 20, true), a.memAlloc(4096)];
          parentPort.postMessage('ready');
        \`;
        const count = () => fs.readdirSync('/proc/self/fd').length;
        (async () => {
          let base;
          for (let i = 0; i < 12; i++) {
            const w = new Worker(src, { eval: true, workerData: { root: process.cwd(), fd: fifoFd } });
            await new Promise((r) => w.once('message', r));
            await w.terminate();
            if (i === 1) base = count(); // after the first Workers have warmed up Node's own fds
          }
          console.log(JSON.stringify({ base, after: count() }));
        })();
      `;
      const r = spawnSync(process.execPath, ['-e', script], { cwd: packageRoot(), encoding: 'utf8', timeout: 60_000 });
      expect(r.signal).toBeNull();
      expect(r.status).toBe(0);
      const { base, after } = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { base: number; after: number };
      expect(after).toBe(base);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
