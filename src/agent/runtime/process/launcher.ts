// How a container's process is started. Two modes:
//
// - "chroot": util-linux `unshare` gives the process a private mount namespace (plus a user
//   namespace when we are not root), in which a shell sets up the container's filesystem — an
//   overlay of the image rootfs with a per-container upper dir (falling back to the shared rootfs
//   when overlayfs is unavailable), /proc /dev /sys from the host, the pod's resolv.conf/hosts and
//   the volume mounts at their container paths — and then chroots into it. Containers see real
//   paths; the mounts vanish with the namespace when the process exits.
// - "host": no namespaces. The process runs in place: executable and PATH are looked up in the
//   image rootfs first, the working directory is mapped into the rootfs, and volume mounts are
//   NOT remapped (a container that opens its mount path sees the host's path, if any).
//
// Both keep the process as the direct child (unshare, sh and chroot all exec), so its pid is the
// container's pid and, with `detached`, the leader of its own process group.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findExecutable } from './command.js';
import type { Mount } from '../types.js';

export type LaunchMode = 'chroot' | 'host';

export interface Tools {
  unshare: string;
  mount: string;
  nsenter?: string;
  sh: string;
  userns: boolean;
}

function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin')
    .split(':')
    .concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin'])) {
    const p = join(d, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Whether chroot mode works here: unshare, mount and sh exist and a private mount namespace can
 * be made (directly as root, or inside an unprivileged user namespace) and mounted in.
 */
export function probeChroot(): Tools | undefined {
  const unshare = which('unshare');
  const mount = which('mount');
  const sh = existsSync('/bin/sh') ? '/bin/sh' : which('sh');
  if (!unshare || !mount || !sh) return undefined;
  const userns = process.getuid?.() !== 0;
  const r = spawnSync(
    unshare,
    [
      ...(userns ? ['-r'] : []),
      '-m',
      '--propagation',
      'private',
      '--',
      sh,
      '-c',
      `${mount} -t tmpfs none /tmp && ${unshare} --root=/ --wd=/ true`,
    ],
    { stdio: 'ignore', timeout: 10_000 },
  );
  return r.status === 0 ? { unshare, mount, sh, nsenter: which('nsenter'), userns } : undefined;
}

/** Single-quotes a string for sh. */
export const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface ChrootPlan {
  rootfs: string;
  /** Per-container directory for the overlay's upper/work dirs and the merged mount point. */
  containerDir: string;
  sandboxDir: string;
  mounts: Mount[];
  cwd: string;
  uid?: number;
  gid?: number;
  readonlyRootfs?: boolean;
}

/** The command line (file + args) that starts `argv` inside the container's chroot. */
export function chrootCommand(tools: Tools, plan: ChrootPlan, argv: string[]): { file: string; args: string[] } {
  const m = tools.mount;
  const root = join(plan.containerDir, 'merged');
  const upper = join(plan.containerDir, 'upper');
  const work = join(plan.containerDir, 'work');
  const at = (p: string) => shq(join(root, p));
  const lines = [
    // The host tools below need the host's PATH; the container's own comes back before exec.
    'k8ts_path="$PATH"; PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'set -e',
    `mkdir -p ${shq(root)} ${shq(upper)} ${shq(work)}`,
    // Overlay keeps the image pristine and each container's writes its own; without it, share.
    `${m} -t overlay overlay -o ${shq(`lowerdir=${plan.rootfs},upperdir=${upper},workdir=${work}`)} ${shq(root)} 2>/dev/null || ${m} --rbind ${shq(plan.rootfs)} ${shq(root)}`,
    `mkdir -p ${at('proc')} ${at('dev')} ${at('sys')} ${at('etc')} ${at('tmp')}`,
    `${m} --rbind /proc ${at('proc')}`,
    `${m} --rbind /dev ${at('dev')}`,
    `${m} --rbind /sys ${at('sys')} || true`,
  ];
  for (const f of ['resolv.conf', 'hosts', 'hostname']) {
    if (!existsSync(join(plan.sandboxDir, f))) continue;
    lines.push(
      `[ -e ${at('etc/' + f)} ] || : > ${at('etc/' + f)}`,
      `${m} --bind ${shq(join(plan.sandboxDir, f))} ${at('etc/' + f)}`,
    );
  }
  for (const mt of plan.mounts) {
    const isDir = (() => {
      try {
        return statSync(mt.hostPath).isDirectory();
      } catch {
        return true;
      }
    })();
    const dest = at(mt.containerPath);
    lines.push(isDir ? `mkdir -p ${dest}` : `mkdir -p "$(dirname ${dest})"; [ -e ${dest} ] || : > ${dest}`);
    lines.push(`${m} --rbind ${shq(mt.hostPath)} ${dest}`);
    if (mt.readonly) lines.push(`${m} -o remount,bind,ro ${dest}`);
  }
  if (plan.readonlyRootfs) lines.push(`${m} -o remount,bind,ro ${shq(root)} || true`);
  const ids =
    plan.uid !== undefined && !tools.userns ? ['--setuid', String(plan.uid), '--setgid', String(plan.gid ?? 0)] : [];
  lines.push(`mkdir -p ${at(plan.cwd)} 2>/dev/null || true`);
  lines.push('PATH="$k8ts_path"; export PATH');
  lines.push(`exec ${tools.unshare} --root=${shq(root)} --wd=${shq(plan.cwd)} ${ids.join(' ')} -- "$@"`);
  return {
    file: tools.unshare,
    args: [
      ...(tools.userns ? ['-r'] : []),
      '-m',
      '--propagation',
      'private',
      '--',
      tools.sh,
      '-c',
      lines.join('\n'),
      'k8ts-container',
      ...argv,
    ],
  };
}

/** Host mode: the executable found in the rootfs (or the host) and a cwd mapped into the rootfs. */
export function hostCommand(
  rootfs: string,
  argv: string[],
  env: Map<string, string>,
  cwd: string,
): { file: string; args: string[]; argv0: string; cwd: string; path: string } {
  const containerPath = env.get('PATH') ?? '';
  const file = findExecutable(argv[0], rootfs, containerPath);
  if (!file) throw new Error(`exec: "${argv[0]}": executable file not found in $PATH`);
  // Children the process starts by name should find the image's binaries too.
  const path = [
    ...containerPath
      .split(':')
      .filter(Boolean)
      .map((d) => join(rootfs, d)),
    containerPath,
  ].join(':');
  const mapped = join(rootfs, cwd);
  return { file, args: argv.slice(1), argv0: argv[0], cwd: existsSync(mapped) ? mapped : rootfs, path };
}

/** Command line that runs `argv` in a running chroot-mode container (its namespaces and root). */
export function nsenterCommand(tools: Tools, pid: number, argv: string[]): { file: string; args: string[] } {
  if (!tools.nsenter) throw new Error('nsenter (util-linux) is needed to exec in a container');
  return {
    file: tools.nsenter,
    args: [
      '-t',
      String(pid),
      ...(tools.userns ? ['-U', '--preserve-credentials'] : []),
      '-m',
      '-r',
      '-w',
      '--',
      ...argv,
    ],
  };
}
