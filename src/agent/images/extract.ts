// Applies image layers (uncompressed tar buffers) onto a directory, giving a root filesystem.
// Entries must stay inside the directory: absolute paths, ".." and paths that pass through a
// symlink the layer created are refused, so a hostile archive cannot write outside the rootfs.
import {
  chmodSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  readdirSync,
  utimesSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { readTar } from './tar.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX } from './oci.js';

const asRoot = process.getuid?.() === 0;

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Refuses paths whose parent directories (below root) include a symlink or "..". */
function safeTarget(root: string, rel: string): string {
  const parts = rel.split('/').filter((p) => p && p !== '.');
  if (parts.some((p) => p === '..')) throw new Error(`layer entry escapes the rootfs: ${rel}`);
  let cur = root;
  for (const p of parts.slice(0, -1)) {
    cur = join(cur, p);
    try {
      const st = lstatSync(cur);
      if (st.isSymbolicLink()) throw new Error(`layer entry passes through a symlink: ${rel}`);
      if (!st.isDirectory()) {
        rmSync(cur, { force: true });
        mkdirSync(cur, { mode: 0o755 });
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      mkdirSync(cur, { mode: 0o755 });
    }
  }
  return join(root, ...parts);
}

/** Extracts one layer onto `root` (which must exist), honouring whiteouts. */
export function applyLayer(root: string, layer: Buffer): void {
  const dirModes: [string, number][] = [];
  for (const e of readTar(layer)) {
    const base = e.path.slice(e.path.lastIndexOf('/') + 1);
    if (base === OPAQUE_WHITEOUT) {
      // The directory's lower-layer content disappears; this layer's own entries follow.
      const dir = dirname(safeTarget(root, e.path));
      if (exists(dir)) for (const child of readdirSync(dir)) rmSync(join(dir, child), { recursive: true, force: true });
      continue;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      const victim = safeTarget(root, e.path.slice(0, -base.length) + base.slice(WHITEOUT_PREFIX.length));
      rmSync(victim, { recursive: true, force: true });
      continue;
    }
    const target = safeTarget(root, e.path);
    if (e.type === 'dir') {
      if (exists(target) && !lstatSync(target).isDirectory()) rmSync(target, { force: true });
      mkdirSync(target, { recursive: true, mode: 0o755 });
      // Directory modes are applied last: a read-only directory would block its own children.
      dirModes.push([target, e.mode]);
    } else {
      if (exists(target)) rmSync(target, { recursive: true, force: true });
      mkdirSync(dirname(target), { recursive: true });
      if (e.type === 'file') {
        writeFileSync(target, e.data ?? Buffer.alloc(0), { mode: e.mode & 0o7777 });
        chmodSync(target, e.mode & 0o7777); // writeFileSync's mode is filtered by the umask
      } else if (e.type === 'symlink') {
        symlinkSync(e.linkname ?? '', target);
      } else {
        linkSync(safeTarget(root, e.linkname ?? ''), target);
      }
    }
    if (asRoot)
      try {
        lchownSync(target, e.uid ?? 0, e.gid ?? 0);
      } catch {
        /* e.g. dangling symlink target */
      }
    if (e.type === 'file' && e.mtime) utimesSync(target, e.mtime, e.mtime);
  }
  for (const [dir, mode] of dirModes.reverse()) chmodSync(dir, (mode & 0o7777) | (asRoot ? 0 : 0o700));
}
