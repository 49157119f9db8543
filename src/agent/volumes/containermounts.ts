// A container's volumeMounts turned into CRI mounts (upstream kubelet makeMounts): the volume's
// host path, or a subPath inside it that is created on demand and may not leave the volume, with
// the read-only flag and mount propagation.
import { promises as fsp } from 'node:fs';
import { posix } from 'node:path';
import type { Container, VolumeMount } from 'kubernetes-types/core/v1.js';
import type { Mount } from '../runtime/types.js';
import type { PodVolumes } from './types.js';

/** `$(VAR)` in subPathExpr from the container's environment; a missing or empty variable fails. */
export function expandSubPathExpr(expr: string, env: { key: string; value: string }[]): string {
  const vars = new Map(env.map((e) => [e.key, e.value]));
  const missing = new Set<string>();
  let out = '';
  for (let i = 0; i < expr.length;) {
    if (expr[i] === '$' && i + 1 < expr.length) {
      const n = expr[i + 1];
      if (n === '$') {
        out += '$';
        i += 2;
        continue;
      }
      if (n === '(') {
        const close = expr.indexOf(')', i + 2);
        if (close >= 0) {
          const name = expr.slice(i + 2, close);
          const v = vars.get(name);
          if (!v) missing.add(name);
          out += v ?? '';
          i = close + 1;
          continue;
        }
      }
      out += '$' + n;
      i += 2;
      continue;
    }
    out += expr[i];
    i++;
  }
  if (missing.size) throw new Error(`missing value for ${[...missing].sort().join(', ')}`);
  return out;
}

const inside = (root: string, p: string) => p === root || p.startsWith(root.endsWith('/') ? root : root + '/');

/**
 * Creates `sub` below `root` one component at a time, refusing to pass through a symlink that
 * leads outside the volume (a container could plant one to reach host files), and returns the
 * resolved host path. New directories take the volume directory's mode, as upstream.
 */
async function safeSubPath(root: string, sub: string): Promise<string> {
  const realRoot = await fsp.realpath(root);
  const rootMode = (await fsp.stat(realRoot)).mode & 0o7777;
  let cur = realRoot;
  for (const part of sub.split('/').filter((s) => s && s !== '.')) {
    const next = posix.join(cur, part);
    try {
      await fsp.lstat(next);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await fsp.mkdir(next);
      await fsp.chmod(next, rootMode);
    }
    const real = await fsp.realpath(next);
    if (!inside(realRoot, real)) throw new Error(`subpath "${sub}" not within volume path "${root}"`);
    cur = real;
  }
  return cur;
}

function propagation(vm: VolumeMount, container: Container): Mount['propagation'] {
  switch (vm.mountPropagation ?? 'None') {
    case 'None':
      return 'PROPAGATION_PRIVATE';
    case 'HostToContainer':
      return 'PROPAGATION_HOST_TO_CONTAINER';
    case 'Bidirectional':
      if (!container.securityContext?.privileged)
        throw new Error('Bidirectional mount propagation is available only to privileged containers');
      return 'PROPAGATION_BIDIRECTIONAL';
    default:
      throw new Error(`invalid MountPropagation mode: ${vm.mountPropagation}`);
  }
}

/**
 * Mounts of one container. configMap/secret/... volumes are mounted as the directory holding the
 * ..data link, so updates reach the container; a subPath into them resolves to the current file
 * and so, as upstream, does not see updates.
 */
export async function containerMounts(
  container: Container,
  volumes: PodVolumes,
  env: { key: string; value: string }[] = [],
): Promise<Mount[]> {
  const out: Mount[] = [];
  for (const vm of container.volumeMounts ?? []) {
    const vol = volumes.get(vm.name);
    if (!vol) throw new Error(`cannot find volume "${vm.name}" to mount into container "${container.name}"`);
    let hostPath = vol.path;
    let sub = vm.subPath ?? '';
    if (vm.subPathExpr) sub = expandSubPathExpr(vm.subPathExpr, env);
    if (sub) {
      if (posix.isAbsolute(sub)) throw new Error(`error SubPath \`${sub}\` must not be an absolute path`);
      if (sub.split('/').includes('..'))
        throw new Error(`unable to provision SubPath \`${sub}\`: must not contain '..'`);
      try {
        hostPath = await safeSubPath(vol.path, sub);
      } catch (e) {
        // Upstream keeps host filesystem details out of the pod's events.
        throw new Error(
          `failed to create subPath directory for volumeMount "${vm.name}" of container "${container.name}"`,
          { cause: e },
        );
      }
    }
    out.push({
      containerPath: vm.mountPath,
      hostPath,
      readonly: vm.readOnly === true || vol.readOnly,
      propagation: propagation(vm, container),
    });
  }
  return out;
}
