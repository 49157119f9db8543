// Writes a set of files into a volume directory so that a container reading it never sees a mix of
// old and new content (the behaviour of the kubelet's AtomicWriter, used by configMap, secret,
// downwardAPI and projected volumes):
//
//   <dir>/..2026_11_22_13_45_01.123456789/   the payload, written in full before it becomes visible
//   <dir>/..data -> ..2026_11_22_13_45_01.123456789
//   <dir>/<key>  -> ..data/<key>             one per top-level entry of the payload
//
// A new payload goes into a fresh timestamped directory, then `..data` is repointed with one
// rename(2) of a temporary symlink, which is atomic. Top-level symlinks stay valid across swaps
// because they go through `..data`; only keys that disappeared have their symlinks removed.
import { randomInt } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { posix } from 'node:path';

export interface FileProjection {
  data: Buffer;
  /** Permission bits (e.g. 0o644). */
  mode: number;
}

/** Relative path → content. Paths may be nested ("dir/file"). */
export type Payload = Map<string, FileProjection>;

export interface AtomicWriterOptions {
  /** pod.spec.securityContext.fsGroup: files get this group and group read access, as upstream. */
  fsGroup?: number;
}

const DATA_DIR = '..data';
const DATA_TMP = '..data_tmp';
const MAX_PATH = 4096;
const MAX_NAME = 255;

/** Throws with upstream's messages when a payload path could escape or shadow the volume's layout. */
export function validatePayloadPath(p: string): void {
  if (p.length > MAX_PATH) throw new Error(`invalid path: must be less than or equal to ${MAX_PATH} characters`);
  if (p === '') throw new Error('invalid path: must not be empty');
  if (posix.isAbsolute(p)) throw new Error(`invalid path: must be relative path: ${p}`);
  const parts = p.split('/');
  for (const part of parts) {
    if (part === '..') throw new Error(`invalid path: must not contain '..': ${p}`);
    if (part.length > MAX_NAME) throw new Error(`invalid path: file name ${part} too long`);
  }
  // "..data" and the timestamped directories live at the top level and start with "..".
  if (parts[0].startsWith('..') && parts[0].length > 2) throw new Error(`invalid path: must not start with '..': ${p}`);
  const clean = posix.normalize(p);
  if (clean === '.' || clean === './') throw new Error(`invalid path: ${p}`);
}

function cleanPayload(payload: Payload): Payload {
  const out: Payload = new Map();
  for (const [p, f] of payload) {
    validatePayloadPath(p);
    out.set(posix.normalize(p).replace(/\/$/, ''), f);
  }
  return out;
}

const topOf = (p: string) => p.split('/')[0];

/** The mode a file ends up with once fsGroup ownership has been applied (upstream's read-only mask). */
function effectiveMode(mode: number, fsGroup: number | undefined): number {
  return (fsGroup === undefined ? mode : mode | 0o440) & 0o7777;
}

/** `..YYYY_MM_DD_HH_MM_SS.<9 digits>` in UTC, like upstream's timestamped data directories. */
function timestampName(now = new Date()): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  const stamp = `${now.getUTCFullYear()}_${p2(now.getUTCMonth() + 1)}_${p2(now.getUTCDate())}_${p2(now.getUTCHours())}_${p2(now.getUTCMinutes())}_${p2(now.getUTCSeconds())}`;
  return `..${stamp}.${String(randomInt(0, 1e9)).padStart(9, '0')}`;
}

const isENOENT = (e: unknown) => (e as NodeJS.ErrnoException)?.code === 'ENOENT';

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch (e) {
    if (isENOENT(e)) return false;
    throw e;
  }
}

/** Every regular file under dir, as paths relative to it (symlinks are reported, never followed). */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await fsp.readdir(posix.join(dir, prefix), { withFileTypes: true });
  } catch (e) {
    if (isENOENT(e)) return out;
    throw e;
  }
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else out.push(rel);
  }
  return out;
}

export class AtomicWriter {
  constructor(
    readonly targetDir: string,
    private readonly opts: AtomicWriterOptions = {},
  ) {}

  /**
   * Makes the directory hold exactly `payload`. Returns false (and touches nothing) when the
   * current content, modes and key set already match, so periodic refreshes are cheap and do not
   * churn inodes under running containers.
   */
  async write(input: Payload): Promise<boolean> {
    const payload = cleanPayload(input);
    const dir = this.targetDir;
    await fsp.mkdir(dir, { recursive: true });

    let oldTs: string | undefined;
    try {
      oldTs = await fsp.readlink(posix.join(dir, DATA_DIR));
    } catch (e) {
      if (!isENOENT(e)) throw e;
    }
    // A ..data link whose target vanished (interrupted clean-up) counts as no content at all.
    if (oldTs && !(await exists(posix.join(dir, oldTs)))) oldTs = undefined;
    const oldFiles = oldTs ? await listFiles(posix.join(dir, oldTs)) : [];
    const newTops = new Set([...payload.keys()].map(topOf));
    const staleTops = new Set(oldFiles.map(topOf).filter((t) => !newTops.has(t)));

    if (oldTs && !(await this.differs(posix.join(dir, oldTs), oldFiles, payload))) {
      // Content is current; still repair user-visible links that someone removed.
      await this.linkTopLevel(newTops);
      return false;
    }

    const tsName = await this.makeTimestampDir();
    const tsPath = posix.join(dir, tsName);
    try {
      await this.writeFiles(tsPath, payload);
    } catch (e) {
      await fsp.rm(tsPath, { recursive: true, force: true });
      throw e;
    }
    await this.linkTopLevel(newTops);

    // The swap: a symlink created under a temporary name replaces ..data in one rename(2).
    const tmp = posix.join(dir, DATA_TMP);
    await fsp.rm(tmp, { force: true });
    await fsp.symlink(tsName, tmp);
    await fsp.rename(tmp, posix.join(dir, DATA_DIR));

    for (const top of staleTops) {
      const p = posix.join(dir, top);
      try {
        if ((await fsp.lstat(p)).isSymbolicLink()) await fsp.unlink(p);
      } catch (e) {
        if (!isENOENT(e)) throw e;
      }
    }
    // Old data directories (the previous one, and any left behind by a crash mid-write).
    for (const name of await fsp.readdir(dir)) {
      if (name.startsWith('..') && name !== DATA_DIR && name !== tsName && name !== DATA_TMP) {
        await fsp.rm(posix.join(dir, name), { recursive: true, force: true });
      }
    }
    return true;
  }

  private async differs(oldDir: string, oldFiles: string[], payload: Payload): Promise<boolean> {
    if (oldFiles.length !== payload.size) return true;
    for (const f of oldFiles) if (!payload.has(f)) return true;
    for (const [p, f] of payload) {
      const file = posix.join(oldDir, p);
      try {
        const st = await fsp.lstat(file);
        if (!st.isFile()) return true;
        if ((st.mode & 0o7777) !== effectiveMode(f.mode, this.opts.fsGroup)) return true;
        if (this.opts.fsGroup !== undefined && st.gid !== this.opts.fsGroup) return true;
        if (st.size !== f.data.length || !(await fsp.readFile(file)).equals(f.data)) return true;
      } catch (e) {
        if (isENOENT(e)) return true;
        throw e;
      }
    }
    return false;
  }

  private async makeTimestampDir(): Promise<string> {
    for (;;) {
      const name = timestampName();
      try {
        await fsp.mkdir(posix.join(this.targetDir, name), { mode: 0o755 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw e;
      }
      // mkdir's mode is filtered by the umask; the data directory must be exactly 0755.
      await fsp.chmod(posix.join(this.targetDir, name), 0o755);
      await this.own(posix.join(this.targetDir, name), true);
      return name;
    }
  }

  private async writeFiles(tsPath: string, payload: Payload): Promise<void> {
    const made = new Set<string>();
    for (const [p, f] of payload) {
      // Parent directories inside the data directory, one level at a time so each gets the mode.
      const parts = p.split('/').slice(0, -1);
      for (let i = 1; i <= parts.length; i++) {
        const sub = parts.slice(0, i).join('/');
        if (made.has(sub)) continue;
        const d = posix.join(tsPath, sub);
        await fsp.mkdir(d, { mode: 0o755 }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== 'EEXIST') throw e;
        });
        await fsp.chmod(d, 0o755);
        await this.own(d, true);
        made.add(sub);
      }
      const file = posix.join(tsPath, p);
      await fsp.writeFile(file, f.data, { mode: f.mode & 0o7777, flag: 'wx' });
      await fsp.chmod(file, f.mode & 0o7777);
      await this.own(file, false, f.mode);
    }
  }

  /** Upstream SetVolumeOwnership for read-only volumes: group = fsGroup, group may read, dirs setgid. */
  private async own(p: string, isDir: boolean, mode = 0o755): Promise<void> {
    const g = this.opts.fsGroup;
    if (g === undefined) return;
    const st = await fsp.lstat(p);
    await fsp.chown(p, st.uid, g);
    await fsp.chmod(p, isDir ? (mode | 0o550 | 0o2000) & 0o7777 : effectiveMode(mode, g));
  }

  private async linkTopLevel(tops: Set<string>): Promise<void> {
    for (const top of tops) {
      const p = posix.join(this.targetDir, top);
      try {
        await fsp.lstat(p);
      } catch (e) {
        if (!isENOENT(e)) throw e;
        await fsp.symlink(posix.join(DATA_DIR, top), p);
      }
    }
  }
}
