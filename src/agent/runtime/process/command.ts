// What a container runs, from its CRI config and its image's config, with the rules containerd
// applies (and Kubernetes documents for command/args): an explicit command replaces the image's
// Entrypoint and drops its Cmd; args alone replace Cmd; env entries override the image's.
import { lstatSync, readlinkSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { ImageRunConfig } from '../../images/oci.js';
import type { ContainerConfig } from '../types.js';

export interface ProcessSpec {
  argv: string[];
  /** KEY=VALUE pairs as a map (insertion order kept). */
  env: Map<string, string>;
  /** Working directory inside the container. */
  cwd: string;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function processSpec(
  config: Pick<ContainerConfig, 'command' | 'args' | 'envs' | 'workingDir'>,
  image: ImageRunConfig,
  hostname?: string,
): ProcessSpec {
  const command = config.command ?? [];
  const args = config.args ?? [];
  const argv = command.length
    ? [...command, ...args]
    : [...(image.Entrypoint ?? []), ...(args.length ? args : (image.Cmd ?? []))];
  if (!argv.length) throw new Error('no command specified: neither the container nor its image gives one');
  const env = new Map<string, string>();
  env.set('PATH', DEFAULT_PATH);
  for (const kv of image.Env ?? []) {
    const eq = kv.indexOf('=');
    if (eq > 0) env.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  if (hostname) env.set('HOSTNAME', hostname);
  for (const { key, value } of config.envs ?? []) env.set(key, value);
  return { argv, env, cwd: config.workingDir || image.WorkingDir || '/' };
}

/** Follows symlinks of `path` (absolute, inside the container) as if `rootfs` were "/". */
export function resolveInRoot(rootfs: string, path: string, hops = 0): string | undefined {
  if (hops > 40) return undefined; // ELOOP
  const parts = posix.normalize(path).split('/').filter(Boolean);
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = posix.join(cur, parts[i]);
    let st;
    try {
      st = lstatSync(join(rootfs, next));
    } catch {
      return undefined;
    }
    if (st.isSymbolicLink()) {
      const target = readlinkSync(join(rootfs, next));
      const rest = parts.slice(i + 1).join('/');
      const joined = target.startsWith('/') ? posix.join(target, rest) : posix.join(cur, target, rest);
      return resolveInRoot(rootfs, joined, hops + 1);
    }
    cur = next;
  }
  return cur;
}

function isExecutableFile(p: string): boolean {
  try {
    const st = statSync(p);
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/**
 * Finds the executable for `cmd` when running without a chroot: inside the image rootfs first
 * (absolute paths, or each PATH directory of the container), then on the host. Returns the host
 * path of the file to execute.
 */
export function findExecutable(cmd: string, rootfs: string | undefined, pathEnv: string): string | undefined {
  const dirs = pathEnv.split(':').filter(Boolean);
  const candidates = cmd.includes('/') ? [cmd] : dirs.map((d) => posix.join(d, cmd));
  if (rootfs) {
    for (const c of candidates) {
      const inRoot = resolveInRoot(rootfs, c.startsWith('/') ? c : posix.join('/', c));
      if (inRoot && isExecutableFile(join(rootfs, inRoot))) return join(rootfs, inRoot);
    }
  }
  for (const c of candidates) if (isExecutableFile(c)) return c;
  return undefined;
}
