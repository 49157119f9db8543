// Building the file sets (payloads) that configMap, secret, downwardAPI and projected volumes
// write through the AtomicWriter, and writing them into a prepared volume directory.
import type { DownwardAPIVolumeFile, KeyToPath, Pod } from 'kubernetes-types/core/v1.js';
import { AtomicWriter, type Payload } from './atomicwriter.js';
import { containerResourceValue, extractFieldPath, type Allocatable } from './downward.js';
import { memoryVolumeSize, prepareDir } from './emptydir.js';
import type { KeyData } from './sources.js';
import type { PluginCall } from './types.js';

/** Upstream's default file mode for projected files (0644). */
export const DEFAULT_MODE = 0o644;

/**
 * The files of a ConfigMap or Secret: every key when `items` is empty, else the listed keys at
 * their paths. A listed key that does not exist fails the mount unless the source is optional.
 */
export function keysPayload(
  kind: 'configmap' | 'secret',
  data: KeyData,
  items: KeyToPath[] | undefined,
  defaultMode: number,
  optional: boolean,
): Payload {
  const out: Payload = new Map();
  if (!items?.length) {
    for (const [k, v] of data.bytes) out.set(k, { data: v, mode: defaultMode });
    return out;
  }
  for (const it of items) {
    const v = data.bytes.get(it.key);
    if (!v) {
      if (optional) continue;
      throw new Error(
        kind === 'configmap'
          ? `configmap references non-existent config key: ${it.key}`
          : `references non-existent secret key: ${it.key}`,
      );
    }
    out.set(it.path, { data: v, mode: it.mode ?? defaultMode });
  }
  return out;
}

/** Files of a downwardAPI volume (or projection); every failing item is reported, not just the first. */
export function downwardPayload(
  pod: Pod,
  items: DownwardAPIVolumeFile[] | undefined,
  defaultMode: number,
  allocatable?: Allocatable,
): Payload {
  const out: Payload = new Map();
  const errors: string[] = [];
  for (const it of items ?? []) {
    let value = '';
    try {
      if (it.fieldRef) value = extractFieldPath(pod, it.fieldRef.fieldPath);
      else if (it.resourceFieldRef) value = containerResourceValue(it.resourceFieldRef, pod, undefined, allocatable);
    } catch (e) {
      errors.push((e as Error).message);
      continue;
    }
    out.set(it.path, { data: Buffer.from(value, 'utf8'), mode: it.mode ?? defaultMode });
  }
  if (errors.length) throw new Error(aggregate(errors));
  return out;
}

/** Upstream's aggregate error text: one message as is, several as `[a, b]`. */
export function aggregate(messages: string[]): string {
  return messages.length === 1 ? messages[0] : `[${messages.join(', ')}]`;
}

/** Prepares the volume directory (tmpfs for secrets when enabled) and writes the payload atomically. */
export async function writeProjection(call: PluginCall, payload: Payload, inMemory: boolean): Promise<boolean> {
  let tmpfs: { sizeBytes?: number } | undefined;
  if (inMemory && call.ctx.secretsOnTmpfs !== false) tmpfs = { sizeBytes: memoryVolumeSize(call) };
  try {
    await prepareDir(call.dir, tmpfs);
  } catch (e) {
    if (!tmpfs) throw e;
    // Not permitted to mount (not root, or in a restricted container): keep secrets on disk.
    call.ctx.logger?.warn(
      { volume: call.volume.name, err: (e as Error).message },
      'tmpfs unavailable, writing volume to disk',
    );
    await prepareDir(call.dir, undefined);
  }
  const writer = new AtomicWriter(call.dir, { fsGroup: call.pod.spec?.securityContext?.fsGroup });
  return writer.write(payload);
}
