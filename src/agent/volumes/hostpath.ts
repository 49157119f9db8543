// hostPath: a path of the node bound into the pod as is. The type field asks for a check (or a
// creation) before the pod starts; messages are upstream's so users see familiar events.
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import type { PluginCall, SetUpResult, VolumePlugin } from './types.js';

async function statOf(path: string): Promise<Stats | undefined> {
  try {
    return await fsp.stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

const failed = (what: string, path: string) => new Error(`hostPath type check failed: ${path} is not ${what}`);

/** Checks (or creates) `path` according to a HostPathType, as the kubelet does before mounting. */
export async function checkHostPathType(path: string, type: string | undefined): Promise<void> {
  const st = await statOf(path);
  switch (type ?? '') {
    case '':
      return;
    case 'DirectoryOrCreate':
    case 'Directory':
      if (!st && type === 'DirectoryOrCreate') {
        await fsp.mkdir(path, { recursive: true, mode: 0o755 });
        return;
      }
      // An existing path must be a directory, whether or not we were allowed to create it.
      if (!st?.isDirectory()) throw failed('a directory', path);
      return;
    case 'FileOrCreate':
    case 'File':
      if (!st && type === 'FileOrCreate') {
        // Like upstream, the parent directory is not created: a missing parent fails the mount.
        const fh = await fsp.open(path, 'a', 0o644);
        await fh.close();
        return;
      }
      if (!st?.isFile()) throw failed('a file', path);
      return;
    case 'Socket':
      if (!st?.isSocket()) throw failed('a socket file', path);
      return;
    case 'CharDevice':
      if (!st?.isCharacterDevice()) throw failed('a character device', path);
      return;
    case 'BlockDevice':
      if (!st?.isBlockDevice()) throw failed('a block device', path);
      return;
    default:
      throw new Error(`${type} is an invalid volume type`);
  }
}

export const hostPathPlugin: VolumePlugin = {
  name: 'kubernetes.io~host-path',
  refreshable: false,
  matches: (v) => !!v.hostPath,
  async setUp(call: PluginCall): Promise<SetUpResult> {
    const src = call.volume.hostPath!;
    await checkHostPathType(src.path, src.type);
    return { path: src.path, readOnly: false, changed: false };
  },
};
