// The node agent's volume manager: prepares a pod's volumes before its containers start, keeps
// configMap/secret/downwardAPI/projected content current while it runs, turns volumeMounts into
// CRI mounts, and removes everything the pod owned on the node when it is gone.
import { promises as fsp } from 'node:fs';
import { posix } from 'node:path';
import type { Container, Pod, Volume } from 'kubernetes-types/core/v1.js';
import type { Mount } from '../runtime/types.js';
import { containerMounts } from './containermounts.js';
import { downwardAPIPlugin } from './downwardapi.js';
import { emptyDirPlugin } from './emptydir.js';
import { hostPathPlugin } from './hostpath.js';
import { configMapPlugin, secretPlugin } from './keyed.js';
import { mountPointsUnder, unmount } from './mounts.js';
import { projectedPlugin } from './projected.js';
import { pvcPlugin } from './pvc.js';
import { SourceReader } from './sources.js';
import { VolumeError, type PodVolume, type PodVolumes, type VolumeContext, type VolumePlugin } from './types.js';

import { tokensFor } from './satoken.js';
export { VolumeError } from './types.js';
export type { PodVolume, PodVolumes, VolumeContext } from './types.js';

export const PLUGINS: readonly VolumePlugin[] = [
  emptyDirPlugin,
  hostPathPlugin,
  configMapPlugin,
  secretPlugin,
  downwardAPIPlugin,
  projectedPlugin,
  pvcPlugin,
];

/** A pod UID used as a directory name must be one plain path component. */
function checkUID(uid: string | undefined): string {
  if (!uid || uid === '.' || uid === '..' || uid.includes('/') || uid.includes('\0'))
    throw new Error(`invalid pod UID ${JSON.stringify(uid)}`);
  return uid;
}

export class VolumeManager {
  constructor(readonly ctx: VolumeContext) {}

  podDir(podUID: string): string {
    return posix.join(this.ctx.podsDir, checkUID(podUID));
  }

  volumeDir(podUID: string, plugin: string, volume: string): string {
    return posix.join(this.podDir(podUID), 'volumes', plugin, volume);
  }

  /**
   * Prepares every volume of the pod. Safe to call again (existing content is kept, unchanged
   * projections are not rewritten). All volumes are attempted; the first failure is thrown as a
   * VolumeError naming its volume, so the agent can report it and retry.
   */
  async setUp(pod: Pod): Promise<PodVolumes> {
    const uid = checkUID(pod.metadata?.uid);
    await fsp.mkdir(this.podDir(uid), { recursive: true, mode: 0o750 });
    const { volumes, errors } = await this.run(pod, pod.spec?.volumes ?? []);
    if (errors.length) throw errors[0];
    return volumes;
  }

  /**
   * Re-derives the content of configMap, secret, downwardAPI and projected volumes from the API
   * and the given pod object. Returns whether any volume changed on disk. Failures are thrown
   * after every volume was tried; what was written stays.
   */
  async refresh(pod: Pod): Promise<boolean> {
    const vols = (pod.spec?.volumes ?? []).filter((v) => PLUGINS.find((p) => p.matches(v))?.refreshable);
    const { changed, errors } = await this.run(pod, vols);
    if (errors.length) throw errors[0];
    return changed;
  }

  /** CRI mounts for a container; `env` (its computed environment) feeds subPathExpr. */
  mountsFor(
    _pod: Pod,
    container: Container,
    volumes: PodVolumes,
    env: { key: string; value: string }[] = [],
  ): Promise<Mount[]> {
    return containerMounts(container, volumes, env);
  }

  /**
   * Unmounts whatever is mounted below the pod directory (tmpfs volumes), then deletes it. The
   * directory is only removed once nothing is mounted in it, and removal never follows symlinks,
   * so data of hostPath volumes and persistent volumes (which live outside) is never touched.
   */
  async tearDown(podUID: string): Promise<void> {
    tokensFor(this.ctx.client).forgetPod(podUID);
    const dir = this.podDir(podUID);
    let real: string;
    try {
      real = await fsp.realpath(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const m of await mountPointsUnder(real)) {
      this.ctx.logger?.debug({ pod: podUID, mount: m }, 'unmounting volume');
      await unmount(m);
    }
    const left = await mountPointsUnder(real);
    if (left.length) throw new Error(`pod ${podUID}: still mounted: ${left.join(', ')}`);
    await fsp.rm(dir, { recursive: true, force: true });
  }

  private async run(
    pod: Pod,
    vols: Volume[],
  ): Promise<{ volumes: PodVolumes; changed: boolean; errors: VolumeError[] }> {
    const uid = checkUID(pod.metadata?.uid);
    const reader = new SourceReader(this.ctx.client);
    const volumes: PodVolumes = new Map();
    const errors: VolumeError[] = [];
    let changed = false;
    for (const volume of vols) {
      const plugin = PLUGINS.find((p) => p.matches(volume));
      if (!plugin) {
        errors.push(
          new VolumeError(
            volume.name,
            `MountVolume.SetUp failed for volume "${volume.name}" : volume type is not supported by this node`,
          ),
        );
        continue;
      }
      try {
        const r = await plugin.setUp({
          ctx: this.ctx,
          pod,
          volume,
          reader,
          dir: this.volumeDir(uid, plugin.name, volume.name),
        });
        changed ||= r.changed;
        const pv: PodVolume = {
          name: volume.name,
          plugin: r.plugin ?? plugin.name,
          path: r.path,
          readOnly: r.readOnly,
          refreshable: plugin.refreshable,
        };
        volumes.set(volume.name, pv);
      } catch (e) {
        const msg = (e as Error).message;
        this.ctx.logger?.debug(
          { pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, volume: volume.name, err: msg },
          'volume set-up failed',
        );
        errors.push(new VolumeError(volume.name, `MountVolume.SetUp failed for volume "${volume.name}" : ${msg}`));
      }
    }
    return { volumes, changed, errors };
  }
}
