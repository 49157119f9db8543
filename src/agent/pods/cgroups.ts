// Pod-level cgroups, as the kubelet's cgroupfs layout: every pod gets a parent cgroup
// (/k8ts/pod<uid>, or /k8ts/burstable|besteffort/pod<uid> by QoS class) under which the runtime
// puts its sandbox and containers. The agent sets the pod's pids limit there (the CRI has no field
// for it on cgroup v1) and removes the directories when the pod is gone.
import { existsSync, mkdirSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { QOSClass } from './container.js';

const ROOT = '/sys/fs/cgroup';

/** cgroup v2 has one unified hierarchy with cgroup.controllers at its root. */
export const isCgroupV2 = () => existsSync(join(ROOT, 'cgroup.controllers'));

export function podCgroupParent(uid: string, qos: QOSClass): string {
  const tier = qos === 'Guaranteed' ? '' : `/${qos.toLowerCase()}`;
  return `/k8ts${tier}/pod${uid}`;
}

function pidsDir(parent: string): string {
  return isCgroupV2() ? join(ROOT, parent) : join(ROOT, 'pids', parent);
}

/** Creates the pod's pids cgroup with its limit (maxPids < 0: unlimited, nothing to do). */
export function setPodPidsLimit(parent: string, maxPids: number): void {
  if (maxPids < 0) return;
  const dir = pidsDir(parent);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pids.max'), String(maxPids));
}

/** Removes the pod's cgroup directories in every hierarchy (empty ones only, as the kernel demands). */
export function removePodCgroups(parent: string): void {
  const hierarchies = isCgroupV2() ? [ROOT] : safeList(ROOT).map((h) => join(ROOT, h));
  for (const h of hierarchies) {
    const dir = join(h, parent);
    if (!existsSync(dir)) continue;
    // Children first (containerd normally removes its own; leftovers of killed containers may remain).
    for (const child of safeList(dir)) {
      try {
        rmdirSync(join(dir, child));
      } catch {
        /* a file, or still busy */
      }
    }
    try {
      rmdirSync(dir);
    } catch {
      /* still busy: the next cleanup tries again */
    }
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch {
    return [];
  }
}
