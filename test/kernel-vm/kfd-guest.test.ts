/**
 * The kfd backend against the real amdgpu KFD driver (guest only). On the SVM kernel every case of
 * cases.ts must give the Linux 6.12 answer; on the kernel without CONFIG_HSA_AMD_SVM every SVM/XNACK
 * ioctl gives EPERM, which the API reports as SvmError 'ENOSVM'. The answers are recorded for
 * fixtures/kernel-answers.json (the sim is held to them on the host by sim-conformance.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backend/contract.js';
import { openKfdBackend } from '../../src/backend/kfd/index.js';
import { SvmError, toSvmError } from '../../src/errors.js';
import { open } from '../../src/index.js';
import { parseTopology } from '../../src/platform/topology.js';
import { CASES, type Answer, expectedWithoutSvm, runAll } from './cases.js';
import { HMM_HELPER, IN_VM, VM_KERNEL, VM_MODE, record } from './guest-env.js';

const withSvm = VM_KERNEL === 'svm';

describe.runIf(IN_VM && (VM_KERNEL === 'nosvm' || (withSvm && VM_MODE === 'hmm')))(
  `real KFD in the guest (${withSvm ? 'CONFIG_HSA_AMD_SVM=y' : 'no SVM'})`,
  () => {
    let backend: Backend;
    let answers: Record<string, Answer>;

    beforeAll(async () => {
      backend = openKfdBackend();
      answers = await runAll(backend);
      record(`kfd-answers-${VM_KERNEL}.json`, {
        kernel: execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim(),
        procVersion: readFileSync('/proc/version', 'utf8').trim(),
        answers,
      });
    });
    afterAll(() => backend?.close());

    for (const c of CASES) {
      it(`${c.id}: ${c.what}`, () => {
        expect(answers[c.id]).toEqual(withSvm ? c.expected : expectedWithoutSvm(c));
      });
    }

    it('reads a CPU-only topology from the real sysfs', () => {
      const tree = backend.machine.topology;
      expect(tree, '/sys/class/kfd/kfd/topology').toBeDefined();
      if (!tree) return;
      const topo = parseTopology(tree);
      record(`topology-${VM_KERNEL}.json`, topo);
      expect(topo.present).toBe(true);
      expect(topo.nodes).toHaveLength(1);
      expect(topo.gpus).toHaveLength(0);
      const node = topo.nodes[0];
      expect(node?.kind).toBe('cpu');
      expect(node?.gpuId).toBe(0);
      // QEMU -smp 2: kfd_create_vcrat_image_cpu counts the online CPUs of the NUMA node.
      expect(node?.cpuCoresCount).toBe(2);
    });

    it('answers raw ioctls the contract cannot express (hmm-helper kfd-raw)', () => {
      const raw = JSON.parse(execFileSync(HMM_HELPER, ['kfd-raw'], { encoding: 'utf8' })) as {
        unknownIoctl: { errno: number };
        svmPlainSize: { errno: number };
      };
      record(`kfd-raw-${VM_KERNEL}.json`, raw);
      // kfd_ioctl: nr >= AMDKFD_CORE_IOCTL_COUNT -> -ENOTTY.
      expect(raw.unknownIoctl.errno).toBe(25);
      // kfd_ioctl_svm_validate runs before the handler, even when the handler is the EPERM stub.
      expect(raw.svmPlainSize.errno).toBe(22);
    });

    it.runIf(withSvm)("open({ backend: 'kfd' }) opens the GPU-less KFD; 'auto' falls back to the sim and says why", async () => {
      const device = await open({ backend: 'kfd' });
      try {
        expect(device.backend).toBe('kfd');
        expect(device.gpus).toHaveLength(0);
      } finally {
        await device.close();
      }
      const auto = await open({ backend: 'auto' });
      try {
        expect(auto.backend).toBe('sim');
        expect(auto.fallbackReason).toMatch(/GPU/);
      } finally {
        await auto.close();
      }
    });

    it.runIf(!withSvm)("open({ backend: 'kfd' }) fails with SvmError ENOSVM: this kernel has no SVM support", async () => {
      const e: unknown = await open({ backend: 'kfd' }).then(
        (d) => d.close().then(() => 'opened'),
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(SvmError);
      expect((e as SvmError).code).toBe('ENOSVM');
      expect((e as SvmError).message).toMatch(/no SVM support/);
      expect((e as SvmError).hint).toMatch(/HSA_AMD_SVM/);
      const auto = await open({ backend: 'auto' });
      try {
        expect(auto.backend).toBe('sim');
        expect(auto.fallbackReason).toMatch(/no SVM support/);
      } finally {
        await auto.close();
      }
    });

    it.runIf(!withSvm)('reports the EPERM stubs as SvmError ENOSVM, with a hint naming the kernel option', async () => {
      let caught: unknown;
      try {
        backend.getXnack();
      } catch (e) {
        caught = e;
      }
      const x = toSvmError(caught, { op: 'xnack query' });
      expect(x.code).toBe('ENOSVM');
      expect(x.hint).toMatch(/HSA_AMD_SVM/);
      const mem = backend.alloc(4096);
      try {
        await backend.svmSetAttr(mem.address, 4096n, []);
        expect.unreachable('SET_ATTR must fail without SVM');
      } catch (e) {
        expect(toSvmError(e, { op: 'set attributes' }).code).toBe('ENOSVM');
      } finally {
        mem.free();
      }
    });
  },
);
