/**
 * `kfd-svm info`: the machine at a glance, as rocminfo would show it, plus what SVM needs to know: the
 * backend (and why), KFD version, XNACK mode, each GPU with its link and capabilities, the special-purpose
 * memory ranges (coherent VRAM) and the GPU each belongs to, available memory.
 */
import type { Command } from 'commander';
import type { Device } from '../../index.js';
import { renderTable } from '../format/table.js';
import { formatBytes } from '../format/units.js';
import { line } from '../io.js';
import type { CommandContext } from './context.js';
import { globalOptions, openDevice, type GlobalOptions } from './global.js';

export interface InfoJson {
  backend: string;
  fallbackReason: string | null;
  profile: string | null;
  kfdVersion: { major: number; minor: number };
  xnack: boolean | null;
  cpus: { nodeId: number; name: string; cores: number; memoryBytes: number }[];
  gpus: {
    index: number;
    gpuId: number;
    nodeId: number;
    name: string;
    gfxTarget: string;
    vramBytes: number;
    coherent: boolean;
    apu: boolean;
    svmCapable: boolean;
    xnackCapable: boolean;
    pciAddress: string;
    drmRenderMinor: number;
    availableBytes: number | null;
  }[];
  spmRanges: { start: string | null; size: number | null; gpuId: number | null; children: string[] }[];
  notes: string[];
}

export function describeDevice(device: Device, global: GlobalOptions, env: NodeJS.ProcessEnv): InfoJson {
  let xnack: boolean | null = null;
  try {
    xnack = device.xnack;
  } catch {
    // A kernel without SVM support cannot answer; shown as unknown.
  }
  const profile = device.backend === 'sim' ? (global.profile ?? (env.KFD_SVM_PROFILE || 'mi250x')) : null;
  return {
    backend: device.backend,
    fallbackReason: device.fallbackReason ?? null,
    profile,
    kfdVersion: { major: device.version.major, minor: device.version.minor },
    xnack,
    cpus: device.cpus.map((c) => ({ nodeId: c.nodeId, name: c.name, cores: c.cores, memoryBytes: c.memoryBytes })),
    gpus: device.gpus.map((g, index) => {
      let availableBytes: number | null = null;
      try {
        availableBytes = device.availableMemory(g);
      } catch {
        // Not every GPU answers (no VM acquired for a GPU without SVM): unknown.
      }
      return {
        index,
        gpuId: g.gpuId,
        nodeId: g.nodeId,
        name: g.name,
        gfxTarget: g.gfxTarget,
        vramBytes: g.vramBytes,
        coherent: g.coherent,
        apu: g.apu,
        svmCapable: g.svmCapable,
        xnackCapable: g.xnackCapable,
        pciAddress: g.pciAddress,
        drmRenderMinor: g.drmRenderMinor,
        availableBytes,
      };
    }),
    spmRanges: device.spmRanges.map((r) => ({
      start: r.start === undefined ? null : `0x${r.start.toString(16)}`,
      size: r.size === undefined ? null : Number(r.size),
      gpuId: r.gpu?.gpuId ?? null,
      children: [...r.children],
    })),
    notes: [...device.notes],
  };
}

const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

export function renderInfo(info: InfoJson): string {
  const out: string[] = [];
  const kv = (k: string, v: string): void => void out.push(`${`${k}:`.padEnd(16)}${v}`);
  kv('Backend', info.backend === 'sim' ? `sim (simulator, profile ${info.profile})` : 'kfd (the amdgpu KFD driver)');
  if (info.fallbackReason) kv('Why', `not the kernel: ${info.fallbackReason}`);
  kv('KFD version', `${info.kfdVersion.major}.${info.kfdVersion.minor}`);
  kv('XNACK', info.xnack === null ? 'unknown (the kernel did not answer)' : info.xnack ? 'on (GPU page faults retry)' : 'off');
  kv('CPU nodes', String(info.cpus.length));
  kv('GPUs', String(info.gpus.length));
  out.push('');
  if (info.cpus.length > 0) {
    out.push('CPU nodes');
    out.push(renderTable(['node', 'name', 'cores', 'memory'], info.cpus.map((c) => [c.nodeId, c.name || '-', c.cores, formatBytes(c.memoryBytes)])));
    out.push('');
  }
  if (info.gpus.length > 0) {
    out.push('GPUs');
    out.push(
      renderTable(
        ['#', 'gpu_id', 'name', 'gfx', 'VRAM', 'link to CPU', 'SVM', 'XNACK', 'available', 'PCI', 'render node'],
        info.gpus.map((g) => [
          g.index,
          `${g.gpuId} (0x${g.gpuId.toString(16)})`,
          g.name,
          g.gfxTarget,
          formatBytes(g.vramBytes),
          g.apu ? 'APU (one memory)' : g.coherent ? 'coherent (VRAM in place)' : 'PCIe (VRAM private)',
          yesNo(g.svmCapable),
          yesNo(g.xnackCapable),
          g.availableBytes === null ? '-' : formatBytes(g.availableBytes),
          g.pciAddress,
          `renderD${g.drmRenderMinor}`,
        ]),
      ),
    );
    out.push('');
  } else {
    out.push('No GPU: every SVM range is refused (the kernel needs a GPU VM).');
    out.push('');
  }
  out.push('Special-purpose memory (Soft Reserved in /proc/iomem: coherent VRAM)');
  if (info.spmRanges.length === 0) out.push('  none');
  else {
    out.push(
      renderTable(
        ['range', 'size', 'GPU', 'iomem children'],
        info.spmRanges.map((r) => {
          const end = r.start !== null && r.size !== null ? `0x${(BigInt(r.start) + BigInt(r.size) - 1n).toString(16)}` : null;
          const gpu = r.gpuId === null ? 'unknown' : `${r.gpuId} (#${info.gpus.findIndex((g) => g.gpuId === r.gpuId)})`;
          return [r.start === null ? 'hidden (needs CAP_SYS_ADMIN)' : `${r.start}-${end}`, r.size === null ? '-' : formatBytes(r.size), gpu, r.children.join(', ') || '-'];
        }),
      ),
    );
  }
  if (info.notes.length > 0) {
    out.push('');
    out.push('Notes');
    for (const n of info.notes) out.push(`  ${n}`);
  }
  return out.join('\n');
}

export function registerInfo(program: Command, ctx: CommandContext): void {
  program
    .command('info')
    .summary('show the machine: backend, KFD version, XNACK, GPUs, coherent VRAM ranges')
    .description(
      'Show the machine as KFD sees it: the backend (and why the simulator, if it is), the KFD interface ' +
        'version, the XNACK mode, each GPU (gpu_id, name, gfx target, VRAM, coherent link or PCIe, SVM and ' +
        'XNACK capability, available memory), and the special-purpose memory ranges with the GPU each belongs to.',
    )
    .option('--json', 'print JSON instead of tables')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const global = globalOptions(cmd);
      const device = await openDevice(global);
      try {
        const info = describeDevice(device, global, ctx.io.env);
        if (opts.json) ctx.io.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        else line(ctx.io.stdout, renderInfo(info));
      } finally {
        await device.close();
      }
    });
}
