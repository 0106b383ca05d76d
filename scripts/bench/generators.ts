/**
 * Large, realistic inputs for the parser benchmarks, deterministic so runs compare: a /proc/iomem listing
 * of a given number of lines and a KFD topology tree of a given number of nodes, in the kernel's formats
 * (kernel/resource.c r_show for iomem; kfd_topology.c node_show / mem_banks_show / iolink_show / kfd_cache_show
 * for the tree).
 */
import type { TreeReader } from '../../src/backend/contract.js';

const hex = (x: bigint): string => x.toString(16).padStart(8, '0');
const GiB = 1n << 30n;
const MiB = 1n << 20n;

/**
 * An iomem listing of exactly `lines` lines: the usual low-memory map, then repeated blocks of System RAM,
 * reserved holes, PCI bridges with device BARs nested up to three levels, and every 16th block an
 * `hmem.N` / `Soft Reserved` / `daxN.0` triple (coherent GPU memory), nested two spaces per level as r_show
 * prints them.
 */
export function generateIomemText(lines: number): string {
  const out: string[] = [
    '00000000-00000fff : Reserved',
    '00001000-0009ffff : System RAM',
    '000a0000-000fffff : Reserved',
    '  000a0000-000bffff : PCI Bus 0000:00',
    '  000f0000-000fffff : System ROM',
    '00100000-3fffffff : System RAM',
    '  01000000-01ffffff : Kernel code',
    '  02000000-027fffff : Kernel rodata',
    '  02800000-02bfffff : Kernel data',
    '  03000000-033fffff : Kernel bss',
  ];
  let addr = 4n * GiB;
  let block = 0;
  while (out.length < lines) {
    const b = block++;
    if (b % 16 === 15) {
      const size = 64n * GiB;
      const n = (b - 15) / 16;
      out.push(`${hex(addr)}-${hex(addr + size - 1n)} : hmem.${n}`);
      out.push(`  ${hex(addr)}-${hex(addr + size - 1n)} : Soft Reserved`);
      out.push(`    ${hex(addr)}-${hex(addr + size - 1n)} : dax${n}.0`);
      addr += size;
      continue;
    }
    const ram = 16n * GiB;
    out.push(`${hex(addr)}-${hex(addr + ram - 1n)} : System RAM`);
    addr += ram;
    out.push(`${hex(addr)}-${hex(addr + 64n * MiB - 1n)} : Reserved`);
    addr += 64n * MiB;
    const bus = (b % 255) + 1;
    const bridge = 256n * MiB;
    out.push(`${hex(addr)}-${hex(addr + bridge - 1n)} : PCI Bus 0000:${bus.toString(16).padStart(2, '0')}`);
    for (let d = 0; d < 4; d++) {
      const bar = addr + BigInt(d) * 64n * MiB;
      const dev = `0000:${bus.toString(16).padStart(2, '0')}:${d.toString(16).padStart(2, '0')}.0`;
      out.push(`  ${hex(bar)}-${hex(bar + 64n * MiB - 1n)} : ${dev}`);
      out.push(`    ${hex(bar)}-${hex(bar + 16n * MiB - 1n)} : amdgpu`);
    }
    addr += bridge;
  }
  out.length = lines;
  return out.join('\n') + '\n';
}

/** A TreeReader over an in-memory map, as a sysfs reader would see the tree. */
export class MapTree implements TreeReader {
  readonly files = new Map<string, string>();
  readonly dirs = new Map<string, string[]>();
  readFile(path: string): string | undefined {
    return this.files.get(path);
  }
  listDir(path: string): string[] | undefined {
    const d = this.dirs.get(path);
    return d === undefined ? undefined : [...d];
  }
  addFile(path: string, text: string): void {
    this.files.set(path, text);
    const slash = path.lastIndexOf('/');
    this.addDirEntry(slash < 0 ? '' : path.slice(0, slash), slash < 0 ? path : path.slice(slash + 1));
  }
  addDirEntry(dir: string, name: string): void {
    const entries = this.dirs.get(dir);
    if (entries === undefined) {
      this.dirs.set(dir, [name]);
      if (dir !== '') {
        const slash = dir.lastIndexOf('/');
        this.addDirEntry(slash < 0 ? '' : dir.slice(0, slash), slash < 0 ? dir : dir.slice(slash + 1));
      }
    } else if (!entries.includes(name)) {
      entries.push(name);
    }
  }
}

const props = (entries: ReadonlyArray<readonly [string, number | bigint]>): string =>
  entries.map(([k, v]) => `${k} ${v}\n`).join('');

/**
 * A topology of `nodes` nodes: one CPU node per 8 GPUs (at least one), the rest MI250X-like GCDs in hives of
 * 8, each GPU with one mem bank, an io_link to its CPU and xGMI links to its hive peers, and 16 caches —
 * the shape of a large Frontier-class node as kfd_topology.c would write it.
 */
export function generateTopologyTree(nodes: number): MapTree {
  const t = new MapTree();
  t.addFile('generation_id', '1\n');
  t.addFile('system_properties', props([['platform_oem', 0n], ['platform_id', 0n], ['platform_rev', 0n]]));
  const cpuCount = Math.max(1, Math.ceil(nodes / 9));
  for (let n = 0; n < nodes; n++) {
    const base = `nodes/${n}`;
    const isCpu = n < cpuCount;
    const gpuIndex = n - cpuCount;
    const cpuOf = isCpu ? n : gpuIndex % cpuCount;
    const gpuId = isCpu ? 0 : 0x1000 + ((gpuIndex * 2654435761) >>> 0) % 0xefff;
    t.addFile(`${base}/gpu_id`, `${gpuId}\n`);
    t.addFile(`${base}/name`, isCpu ? 'AMD EPYC 7A53 64-Core Processor\n' : 'gfx90a\n');
    const hiveStart = cpuCount + Math.floor(gpuIndex / 8) * 8;
    const peers = isCpu ? [] : Array.from({ length: Math.min(8, nodes - hiveStart) }, (_, i) => hiveStart + i).filter((p) => p !== n);
    const caches = isCpu ? 0 : 16;
    t.addFile(
      `${base}/properties`,
      props([
        ['cpu_cores_count', isCpu ? 64 : 0],
        ['simd_count', isCpu ? 0 : 440],
        ['mem_banks_count', 1],
        ['caches_count', caches],
        ['io_links_count', 1 + peers.length],
        ['p2p_links_count', 0],
        ['cpu_core_id_base', isCpu ? n * 64 : 0],
        ['simd_id_base', isCpu ? 0 : 0x80000000 + gpuIndex * 440],
        ['max_waves_per_simd', isCpu ? 0 : 8],
        ['lds_size_in_kb', isCpu ? 0 : 64],
        ['gds_size_in_kb', 0],
        ['num_gws', isCpu ? 0 : 64],
        ['wave_front_size', isCpu ? 0 : 64],
        ['array_count', isCpu ? 0 : 8],
        ['simd_arrays_per_engine', isCpu ? 0 : 1],
        ['cu_per_simd_array', isCpu ? 0 : 14],
        ['simd_per_cu', isCpu ? 0 : 4],
        ['max_slots_scratch_cu', isCpu ? 0 : 32],
        ['gfx_target_version', isCpu ? 0 : 90010],
        ['vendor_id', isCpu ? 0 : 0x1002],
        ['device_id', isCpu ? 0 : 0x740c],
        ['location_id', isCpu ? 0 : ((0xc1 + gpuIndex) & 0xff) << 8],
        ['domain', isCpu ? 0 : Math.floor(gpuIndex / 256)],
        ['drm_render_minor', isCpu ? 0 : 128 + gpuIndex],
        ['hive_id', isCpu ? 0n : 0x1234_5678_0000_0000n + BigInt(Math.floor(gpuIndex / 8))],
        ['num_sdma_engines', isCpu ? 0 : 2],
        ['num_sdma_xgmi_engines', isCpu ? 0 : 3],
        ['num_sdma_queues_per_engine', isCpu ? 0 : 8],
        ['num_cp_queues', isCpu ? 0 : 24],
        ['max_engine_clk_fcompute', isCpu ? 0 : 1700],
        ['local_mem_size', 0],
        ['fw_version', isCpu ? 0 : 78],
        ['capability', isCpu ? 0 : 0x28a8_2080],
        ['debug_prop', isCpu ? 0 : 0x5a],
        ['sdma_fw_version', isCpu ? 0 : 8],
        ['unique_id', isCpu ? 0n : 0x9d2f_0000_0000_0000n + BigInt(gpuIndex)],
        ['num_xcc', isCpu ? 0 : 1],
        ['max_engine_clk_ccompute', isCpu ? 3500 : 3500],
      ]),
    );
    t.addFile(
      `${base}/mem_banks/0/properties`,
      props([
        ['heap_type', isCpu ? 0 : 1],
        ['size_in_bytes', isCpu ? 512n * GiB : 64n * GiB],
        ['flags', 0],
        ['width', isCpu ? 64 : 4096],
        ['mem_clk_max', isCpu ? 3200 : 1600],
      ]),
    );
    const links: Array<[number, number]> = [[isCpu ? n : cpuOf, isCpu ? 2 : 11]];
    for (const p of peers) links.push([p, 11]);
    links.forEach(([to, type], l) => {
      t.addFile(
        `${base}/io_links/${l}/properties`,
        props([
          ['type', type],
          ['version_major', 0],
          ['version_minor', 0],
          ['node_from', n],
          ['node_to', to],
          ['weight', type === 11 ? 15 : 20],
          ['min_latency', 0],
          ['max_latency', 0],
          ['min_bandwidth', type === 11 ? 50_000 : 312],
          ['max_bandwidth', type === 11 ? 50_000 : 64_000],
          ['recommended_transfer_size', 0],
          ['recommended_sdma_engine_id_mask', 0],
          ['flags', 1],
        ]),
      );
    });
    t.dirs.set(`${base}/p2p_links`, []);
    t.addDirEntry(base, 'p2p_links');
    for (let c = 0; c < caches; c++) {
      t.addFile(
        `${base}/caches/${c}/properties`,
        props([
          ['processor_id_low', 0x80000000 + gpuIndex * 440 + c],
          ['level', c < 8 ? 1 : c < 14 ? 2 : 3],
          ['size', c < 8 ? 16 : c < 14 ? 8192 : 0],
          ['cache_line_size', 128],
          ['cache_lines_per_tag', 1],
          ['association', 16],
          ['latency', 0],
          ['type', 5],
        ]),
      );
    }
  }
  return t;
}
