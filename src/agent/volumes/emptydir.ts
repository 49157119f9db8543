// emptyDir: a directory that lives as long as the pod. Medium "Memory" puts it on a tmpfs whose
// size is the smallest of the volume's sizeLimit, the pod's memory limit and node allocatable
// memory (upstream's SizeMemoryBackedVolumes behaviour); tear-down unmounts it.
import { promises as fsp } from 'node:fs';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Quantity } from '../../machinery/quantity.js';
import { isMountPoint, mountTmpfs } from './mounts.js';
import type { PluginCall, SetUpResult, VolumePlugin } from './types.js';

const bytesOf = (q: unknown): bigint | undefined => {
  if (q === undefined || q === null) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a sizeLimit is a string or number
  const v = Quantity.parse(String(q)).scaledValueBig(0);
  return v > 0n ? v : undefined;
};

/** Sum of the containers' memory limits, or the largest init container's if that is larger. */
function podMemoryLimit(pod: Pod): bigint | undefined {
  let sum = 0n;
  for (const c of pod.spec?.containers ?? []) sum += bytesOf(c.resources?.limits?.memory) ?? 0n;
  for (const c of pod.spec?.initContainers ?? []) {
    const l = bytesOf(c.resources?.limits?.memory) ?? 0n;
    if (l > sum) sum = l;
  }
  return sum > 0n ? sum : undefined;
}

export function memoryVolumeSize(call: PluginCall, sizeLimit?: unknown): number | undefined {
  const candidates = [bytesOf(call.ctx.nodeAllocatable?.memory), podMemoryLimit(call.pod), bytesOf(sizeLimit)].filter(
    (x): x is bigint => x !== undefined,
  );
  if (!candidates.length) return undefined;
  return Number(candidates.reduce((a, b) => (b < a ? b : a)));
}

/**
 * Creates the volume directory (world-writable like upstream, so any container user can write),
 * on tmpfs when asked. Idempotent: an existing directory or mount is kept with its content.
 */
export async function prepareDir(dir: string, tmpfs: { sizeBytes?: number } | undefined): Promise<void> {
  await fsp.mkdir(dir, { recursive: true });
  // The mount table holds resolved paths; comparing the unresolved one would mount again and
  // again over a pods directory reached through a symlink.
  if (tmpfs && !(await isMountPoint(await fsp.realpath(dir)))) await mountTmpfs(dir, tmpfs.sizeBytes);
  const st = await fsp.stat(dir);
  if ((st.mode & 0o777) !== 0o777) await fsp.chmod(dir, (st.mode & 0o7000) | 0o777);
}

/** pod.spec.securityContext.fsGroup on a writable volume: group-owned, setgid so new files inherit it. */
export async function applyFsGroup(dir: string, fsGroup: number | undefined): Promise<void> {
  if (fsGroup === undefined) return;
  const st = await fsp.stat(dir);
  if (st.gid !== fsGroup) await fsp.chown(dir, st.uid, fsGroup);
  if (!(st.mode & 0o2000)) await fsp.chmod(dir, (st.mode & 0o7777) | 0o2000);
}

export const emptyDirPlugin: VolumePlugin = {
  name: 'kubernetes.io~empty-dir',
  refreshable: false,
  matches: (v) => !!v.emptyDir,
  async setUp(call: PluginCall): Promise<SetUpResult> {
    const src = call.volume.emptyDir!;
    const medium = src.medium ?? '';
    if (medium !== '' && medium !== 'Memory')
      throw new Error(`emptyDir medium ${JSON.stringify(medium)} is not supported by this node`);
    await prepareDir(call.dir, medium === 'Memory' ? { sizeBytes: memoryVolumeSize(call, src.sizeLimit) } : undefined);
    await applyFsGroup(call.dir, call.pod.spec?.securityContext?.fsGroup);
    return { path: call.dir, readOnly: false, changed: false };
  },
};
