// Facts about the host a node reports: capacity, identity, OS, and the pressure signals the
// kubelet's eviction manager watches (memory available, disk available, PIDs).
import { cpus, release, hostname, networkInterfaces, arch } from 'node:os';
import { readFileSync, readdirSync, statfsSync } from 'node:fs';
import { createHash } from 'node:crypto';

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

export function meminfo(): { totalBytes: number; availableBytes: number } {
  const text = read('/proc/meminfo');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { totalBytes: kb('MemTotal'), availableBytes: kb('MemAvailable') };
}

export function diskinfo(path: string): {
  totalBytes: number;
  availableBytes: number;
  inodes: number;
  inodesFree: number;
} {
  try {
    const s = statfsSync(path);
    return { totalBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize, inodes: s.files, inodesFree: s.ffree };
  } catch {
    return { totalBytes: 0, availableBytes: 0, inodes: 0, inodesFree: 0 };
  }
}

export function pidinfo(): { max: number; running: number } {
  const max = Number(read('/proc/sys/kernel/pid_max')) || 32768;
  let running = 0;
  try {
    running = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;
  } catch {
    /* not Linux */
  }
  return { max, running };
}

/** Total CPU time of the host (all cores) in nanoseconds, from /proc/stat. */
export function hostCpuNanos(): number {
  const line = read('/proc/stat').split('\n')[0] ?? '';
  const f = line.split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return (busy * 1e9) / 100; // USER_HZ is 100 on Linux
}

export function osImage(): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(read('/etc/os-release'));
  return m?.[1] ?? 'Linux';
}

export function nodeInfo(runtimeVersion: string, kubeletVersion: string) {
  const machineID = read('/etc/machine-id') || createHash('sha256').update(hostname()).digest('hex').slice(0, 32);
  const uuid =
    read('/sys/class/dmi/id/product_uuid') ||
    `${machineID.slice(0, 8)}-${machineID.slice(8, 12)}-${machineID.slice(12, 16)}-${machineID.slice(16, 20)}-${machineID.slice(20, 32)}`;
  return {
    machineID,
    systemUUID: uuid,
    bootID: read('/proc/sys/kernel/random/boot_id'),
    kernelVersion: release(),
    osImage: osImage(),
    containerRuntimeVersion: runtimeVersion,
    kubeletVersion,
    kubeProxyVersion: kubeletVersion,
    operatingSystem: 'linux',
    architecture: goArch(),
  };
}

export function goArch(): string {
  const a = arch();
  return a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a;
}

export function cpuCount(): number {
  return cpus().length;
}

/** The first non-loopback IPv4 address of the host (the node's InternalIP unless --node-ip says otherwise). */
export function primaryIPv4(): string {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    // Bridges and veths of pod networks are not the host's address.
    if (/^(k8ts|cni|veth|docker|br-|flannel)/.test(name)) continue;
    for (const a of addrs ?? [])
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.')) return a.address;
  }
  return '127.0.0.1';
}
