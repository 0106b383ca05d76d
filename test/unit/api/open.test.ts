import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getProfile, PROFILE_IDS } from '../../../src/platform/profiles.js';
import { open, SvmError, type Device } from '../../../src/index.js';

const saved = { backend: process.env.KFD_SVM_BACKEND, profile: process.env.KFD_SVM_PROFILE };
const opened: Device[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'kfd-svm-open-'));

beforeEach(() => {
  delete process.env.KFD_SVM_BACKEND;
  delete process.env.KFD_SVM_PROFILE;
});
afterEach(async () => {
  for (const d of opened.splice(0)) await d.close();
  for (const [k, v] of [
    ['KFD_SVM_BACKEND', saved.backend],
    ['KFD_SVM_PROFILE', saved.profile],
  ] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function track(p: Promise<Device>): Promise<Device> {
  const d = await p;
  opened.push(d);
  return d;
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(SvmError);
    return (e as SvmError).code;
  }
  throw new Error('expected a rejection');
}

describe('open: choosing the backend', () => {
  it('KFD_SVM_BACKEND=sim opens the simulator, with no fallback reason', async () => {
    process.env.KFD_SVM_BACKEND = 'sim';
    const d = await track(open());
    expect(d.backend).toBe('sim');
    expect(d.fallbackReason).toBeUndefined();
  });

  it('options win over the environment', async () => {
    process.env.KFD_SVM_BACKEND = 'kfd';
    process.env.KFD_SVM_PROFILE = 'mi300x';
    const d = await track(open({ backend: 'sim', profile: 'mi210' }));
    expect(d.backend).toBe('sim');
    expect(d.gpus.map((g) => g.gpuId)).toEqual(getProfile('mi210').gpus.map((g) => g.gpuId));
  });

  it('KFD_SVM_PROFILE picks the simulated machine; the default is mi250x', async () => {
    process.env.KFD_SVM_BACKEND = 'sim';
    process.env.KFD_SVM_PROFILE = 'mi300x';
    expect((await track(open())).gpus.length).toBe(getProfile('mi300x').gpus.length);
    delete process.env.KFD_SVM_PROFILE;
    expect((await track(open())).gpus.map((g) => g.gpuId)).toEqual(getProfile('mi250x').gpus.map((g) => g.gpuId));
  });

  it('every profile opens, with its GPUs typed from the topology the sim writes', async () => {
    for (const id of PROFILE_IDS) {
      const p = getProfile(id);
      const d = await track(open({ backend: 'sim', profile: id }));
      expect(d.gpus.map((g) => g.gpuId), id).toEqual(p.gpus.map((g) => g.gpuId));
      expect(d.gpus.map((g) => g.vramBytes), id).toEqual(p.gpus.map((g) => g.vramBytes));
      expect(d.gpus.map((g) => g.coherent), id).toEqual(p.gpus.map((g) => g.memoryKind !== 'private'));
      expect(d.gpus.map((g) => g.svmCapable), id).toEqual(p.gpus.map((g) => g.svmSupported));
      expect(d.gpus.map((g) => g.drmRenderMinor), id).toEqual(p.gpus.map((g) => g.drmRenderMinor));
      expect(d.vmGpuIds, id).toEqual(p.gpus.filter((g) => g.svmSupported).map((g) => g.gpuId));
      expect(d.cpus.length, id).toBe(p.cpus.length);
      expect(d.xnack, id).toBe(p.xnackDefault);
    }
  });

  it('bad options and an unknown profile are EARG, naming the valid values', async () => {
    expect(await code(open({ backend: 'gpu' as never }))).toBe('EARG');
    process.env.KFD_SVM_BACKEND = 'cuda';
    const e = await open().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SvmError);
    expect((e as SvmError).hint).toMatch(/KFD_SVM_BACKEND/);
    delete process.env.KFD_SVM_BACKEND;
    const p = await open({ backend: 'sim', profile: 'mi999' }).catch((x: unknown) => x);
    expect((p as SvmError).code).toBe('EARG');
    expect((p as SvmError).message).toContain('mi250x');
  });
});

describe('open: auto falls back to the simulator and says why', () => {
  it('no device node: auto falls back, kfd is ENODEV', async () => {
    const devicePath = join(tmp, 'no-such-kfd');
    const d = await track(open({ backend: 'auto', devicePath }));
    expect(d.backend).toBe('sim');
    expect(d.fallbackReason).toMatch(/no .*no-such-kfd device node/);
    expect(await code(open({ backend: 'kfd', devicePath }))).toBe('ENODEV');
  });

  it('permission denied names the group that owns the node', async (ctx) => {
    if (process.getuid?.() === 0) ctx.skip('root can open any node');
    const devicePath = join(tmp, 'kfd-locked');
    writeFileSync(devicePath, '');
    chmodSync(devicePath, 0o000);
    const d = await track(open({ backend: 'auto', devicePath }));
    expect(d.backend).toBe('sim');
    expect(d.fallbackReason).toMatch(/permission denied .* join the '.+' group/);
    const e = (await open({ backend: 'kfd', devicePath }).catch((x: unknown) => x)) as SvmError;
    expect(e.code).toBe('EACCES');
    expect(e.hint).toMatch(/usermod -aG/);
  });

  it('a node that is not KFD (or no addon): auto falls back with a reason, kfd rejects with an SvmError', async () => {
    const devicePath = join(tmp, 'not-kfd');
    writeFileSync(devicePath, '');
    const d = await track(open({ backend: 'auto', devicePath }));
    expect(d.backend).toBe('sim');
    // With the addon built, GET_VERSION on a plain file answers ENOTTY; without it, the addon is the reason.
    expect(d.fallbackReason).toMatch(/is not a KFD device \(GET_VERSION: ENOTTY\)|native addon failed to load/);
    expect(['ENODEV', 'EBACKEND']).toContain(await code(open({ backend: 'kfd', devicePath })));
  });
});

describe('explicit resource management', () => {
  it('`await using` closes the device, `using` frees the buffer', async () => {
    let outer: Device | undefined;
    let buffer: import('../../../src/index.js').SvmBuffer | undefined;
    {
      await using device = await open({ backend: 'sim', profile: 'mi210' });
      outer = device;
      {
        using buf = await device.alloc(4096);
        buffer = buf;
        expect(buf.freed).toBe(false);
      }
      expect(buffer.freed).toBe(true);
      expect(device.closed).toBe(false);
    }
    expect(outer.closed).toBe(true);
  });
});
