/**
 * `whisper-napi doctor`: what this machine is, which binaries the package has, what was found
 * about CUDA, and what `gpu: 'auto'` picks and why. It reports failures instead of throwing.
 */
import fs from 'node:fs';
import os from 'node:os';
import { findCpuBinary, findCudaPackages, type BinaryLocation, type CudaPackage } from './binaries';
import { checkCuda, type CudaCheck } from './cuda-probe';
import { loadBackend, type BackendInfo, type GpuPreference } from './loader';
import { getDevices, type Device } from './system';
import { packageManifest, packageRoot } from './package';

const CPU_FLAGS_OF_INTEREST = ['sse4_2', 'avx', 'f16c', 'fma', 'avx2', 'bmi2', 'avx_vnni', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bf16', 'amx_int8'];

export interface Diagnosis {
  package: { name: string; version: string; dir: string };
  platform: { os: string; arch: string; glibc: string | null; node: string; napi: string | undefined };
  cpu: { model: string; cores: number; flags: string[] | null };
  binaries: { cpu: BinaryLocation | null; cudaPackages: CudaPackage[] };
  /** What was found about CUDA, including the child-process test load. */
  cuda: CudaCheck;
  /** What gpu: 'auto' uses here, and why. */
  auto: { binary: 'cuda' | 'cpu'; reason: string };
  /** The binary this process loaded for the requested preference, or why it could not. */
  loaded: BackendInfo | { error: string };
  devices: Device[];
}

function cpuFlags(): string[] | null {
  try {
    const line = fs
      .readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('flags'));
    if (!line) return null;
    const flags = new Set(line.split(':')[1].trim().split(/\s+/));
    return CPU_FLAGS_OF_INTEREST.filter((flag) => flags.has(flag));
  } catch {
    return null;
  }
}

export async function diagnose(options: { gpu?: GpuPreference } = {}): Promise<Diagnosis> {
  const root = packageRoot;
  const pkg = packageManifest;
  const cpus = os.cpus();
  let loaded: Diagnosis['loaded'];
  try {
    loaded = await loadBackend(options.gpu ? { gpu: options.gpu } : {});
  } catch (error) {
    loaded = { error: error instanceof Error ? error.message : String(error) };
  }
  const loadedInfo = 'error' in loaded ? null : loaded;
  const cuda = loadedInfo?.cuda ?? (await checkCuda());
  let devices: Device[] = [];
  if (loadedInfo) {
    try {
      devices = getDevices();
    } catch {
      devices = [];
    }
  }
  return {
    package: { name: pkg.name, version: pkg.version, dir: root },
    platform: {
      os: process.platform,
      arch: process.arch,
      glibc: (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime ?? null,
      node: process.version,
      napi: process.versions.napi,
    },
    cpu: { model: cpus[0]?.model ?? 'unknown', cores: cpus.length, flags: cpuFlags() },
    binaries: { cpu: findCpuBinary(), cudaPackages: findCudaPackages() },
    cuda,
    auto: cuda.problem ? { binary: 'cpu', reason: cuda.problem } : { binary: 'cuda', reason: `${cuda.packageName} passed its test load` },
    loaded,
    devices,
  };
}

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function describeBinary(binary: BinaryLocation | null): string {
  if (!binary) return 'none found';
  const manifest = binary.manifest ? `, ${binary.manifest.package} ${binary.manifest.version}, whisper.cpp ${binary.manifest.whisperCpp ?? '?'}` : '';
  return `${binary.path} (${binary.source}${manifest})`;
}

/** The diagnosis as aligned text lines. */
export function formatDiagnosis(d: Diagnosis): string {
  const rows: Array<[string, string]> = [];
  const row = (label: string, value: string) => rows.push([label, value]);
  row('package', `${d.package.name} ${d.package.version} (${d.package.dir})`);
  row(
    'platform',
    `${d.platform.os} ${d.platform.arch}${d.platform.glibc ? `, glibc ${d.platform.glibc}` : ''}, Node ${d.platform.node} (N-API ${d.platform.napi ?? '?'})`,
  );
  const missing = d.cpu.flags ? CPU_FLAGS_OF_INTEREST.filter((flag) => !d.cpu.flags!.includes(flag)) : [];
  row(
    'cpu',
    `${d.cpu.model}, ${d.cpu.cores} threads${d.cpu.flags ? `: ${d.cpu.flags.join(' ') || 'baseline x86-64 only'}${missing.length ? ` (not: ${missing.join(' ')})` : ''}` : ''}`,
  );
  row('cpu binary', describeBinary(d.binaries.cpu));
  row(
    'cuda package',
    d.binaries.cudaPackages.length
      ? d.binaries.cudaPackages.map((p) => `${p.name} ${p.version} (${p.dir})`).join('; ')
      : `not installed (npm install ${d.cuda.packageName})`,
  );
  if (d.cuda.binary) row('cuda binary', describeBinary(d.cuda.binary));
  if (d.cuda.package) {
    row('cuda driver', d.cuda.driver.library ? `${d.cuda.driver.library}${d.cuda.driver.version ? `, driver ${d.cuda.driver.version}` : ''}` : 'libcuda.so.1 not found');
    for (const [library, found] of Object.entries(d.cuda.runtime)) {
      row('cuda runtime', `${library}: ${found.path ?? (found.offPath ? `only at ${found.offPath} (not on the library path)` : 'not found')}`);
    }
  }
  if (d.cuda.testLoad) {
    const t = d.cuda.testLoad;
    row(
      'test load',
      t.ok
        ? `ok in ${t.milliseconds} ms: ${t.devices.map((g) => `${g.description || g.name} (${gib(g.freeBytes)} free of ${gib(g.totalBytes)})`).join(', ')}`
        : `failed in ${t.milliseconds} ms: ${t.reason}`,
    );
  }
  row('auto picks', `${d.auto.binary}: ${d.auto.reason}`);
  if ('error' in d.loaded) {
    row('loaded', `nothing: ${d.loaded.error}`);
  } else {
    const cpu = d.loaded.backends.find((b) => b.name === 'CPU');
    const features = cpu
      ? Object.entries(cpu.features)
          .filter(([, v]) => v === '1')
          .map(([k]) => k)
          .join(' ')
      : '';
    row(
      'loaded',
      `${d.loaded.binary.kind} binary (gpu: '${d.loaded.gpu}')${d.loaded.cpuVariant ? `, CPU variant ${d.loaded.cpuVariant}` : ''}${features ? ` [${features}]` : ''}`,
    );
    if (d.loaded.fallbackReason && d.loaded.fallbackReason !== d.auto.reason) row('fallback', d.loaded.fallbackReason);
  }
  for (const device of d.devices) {
    row('device', `${device.index}: ${device.backend} ${device.description || device.name}, ${gib(device.freeBytes)} free of ${gib(device.totalBytes)}`);
  }
  const width = Math.max(...rows.map(([label]) => label.length));
  return rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n');
}
