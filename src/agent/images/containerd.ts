// Image management in the agent's containerd through its `ctr` client. Images go into the
// "k8s.io" namespace because that is where containerd's CRI plugin (which runs our pods) looks.
// ctr already implements import of both archive formats, unpacking into the snapshotter and the
// content store's bookkeeping; re-doing that over gRPC would buy nothing here.
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { ociArch } from './oci.js';

export const CRI_NAMESPACE = 'k8s.io';

export interface ContainerdImage {
  /** Full reference, e.g. "k8ts.local/busybox:1.35". */
  ref: string;
  /** Digest of the image's target (manifest or index). */
  digest: string;
  /** Digest of the config blob: the image ID the CRI reports (undefined if it could not be read). */
  id?: string;
  /** Bytes of content, as `ctr images ls` reports them. */
  size: number;
}

export interface ImportOptions {
  /** Called with each line ctr prints ("unpacking <ref> (sha256:...)...done"). */
  onProgress?: (line: string) => void;
  /** ctr binary (default "ctr" on PATH). */
  ctr?: string;
}

interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs ctr against `socket` in the CRI namespace; `input` is piped to its stdin. */
function ctr(
  socket: string,
  args: string[],
  opts: { input?: Buffer | string; onLine?: (l: string) => void; onSent?: (bytes: number) => void; ctr?: string } = {},
): Promise<RunResult> {
  if (!existsSync(socket))
    return Promise.reject(new Error(`containerd socket ${socket} does not exist (is containerd running?)`));
  return new Promise((resolve, reject) => {
    const child = spawn(opts.ctr ?? 'ctr', ['--address', socket, '--namespace', CRI_NAMESPACE, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    const onData = (s: string) => {
      if (!opts.onLine) return;
      pending += s;
      // ctr rewrites its progress line with "\r" on a terminal; treat both as line ends.
      const parts = pending.split(/\r?\n|\r/);
      pending = parts.pop() ?? '';
      for (const p of parts) if (p.trim()) opts.onLine(p.trim());
    };
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
      onData(s);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', (e) => reject(new Error(`cannot run ctr: ${e.message}`)));
    child.on('close', (code) => {
      if (opts.onLine && pending.trim()) opts.onLine(pending.trim());
      resolve({ stdout, stderr, code: code ?? 1 });
    });
    child.stdin.on('error', () => {
      /* ctr exited early; its stderr says why */
    });
    if (typeof opts.input === 'string') {
      let sent = 0;
      const file = createReadStream(opts.input).on('error', reject);
      if (opts.onSent) file.on('data', (b) => opts.onSent!((sent += b.length)));
      file.pipe(child.stdin);
    } else child.stdin.end(opts.input ?? '');
  });
}

const failure = (what: string, r: RunResult) =>
  new Error(`${what}: ${(r.stderr || r.stdout).trim() || `ctr exited with code ${r.code}`}`);

/**
 * Imports an OCI-layout or docker-archive tar (a path or the bytes) and unpacks it for the CRI
 * plugin. Returns the refs ctr reported as imported.
 */
export async function importImage(socket: string, tar: string | Buffer, opts: ImportOptions = {}): Promise<string[]> {
  const refs: string[] = [];
  if (typeof tar === 'string' && !existsSync(tar)) throw new Error(`no such file: ${tar}`);
  // The archive reaches ctr on stdin in both cases, so ctr needs no access to the caller's path.
  const total = typeof tar === 'string' ? statSync(tar).size : tar.length;
  const mib = (n: number) => (n / 1048576).toFixed(1);
  const r = await ctr(socket, ['images', 'import', '--platform', `linux/${ociArch()}`, '-'], {
    input: tar,
    ctr: opts.ctr,
    onSent: (n) => opts.onProgress?.(`reading archive: ${mib(n)}/${mib(total)} MiB`),
    onLine: (line) => {
      const m = /^unpacking (\S+) \(/.exec(line);
      if (m && !refs.includes(m[1])) refs.push(m[1]);
      opts.onProgress?.(line);
    },
  });
  if (r.code !== 0) throw failure('image import failed', r);
  return refs;
}

const UNITS: Record<string, number> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  kB: 1e3,
  MB: 1e6,
  GB: 1e9,
};

/** "1.9 MiB" → bytes, as ctr prints sizes. */
export function parseSize(s: string): number {
  const m = /^([\d.]+)\s*([A-Za-z]+)$/.exec(s.trim());
  return m ? Math.round(Number(m[1]) * (UNITS[m[2]] ?? 1)) : 0;
}

/** Parses `ctr images ls` output: REF TYPE DIGEST SIZE PLATFORMS LABELS, size being "<n> <unit>". */
export function parseImageList(out: string): Omit<ContainerdImage, 'id'>[] {
  const images: Omit<ContainerdImage, 'id'>[] = [];
  for (const line of out.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5) continue;
    images.push({ ref: f[0], digest: f[2], size: parseSize(`${f[3]} ${f[4]}`) });
  }
  return images;
}

/** The config digest (image ID) of a manifest or index, read from containerd's content store. */
async function configDigest(socket: string, digest: string, depth = 0): Promise<string | undefined> {
  const r = await ctr(socket, ['content', 'get', digest]);
  if (r.code !== 0 || depth > 2) return undefined;
  try {
    const doc = JSON.parse(r.stdout) as {
      config?: { digest: string };
      manifests?: { digest: string; platform?: { architecture?: string; os?: string } }[];
    };
    if (doc.config) return doc.config.digest;
    const m =
      doc.manifests?.find((d) => !d.platform || (d.platform.architecture === ociArch() && d.platform.os === 'linux')) ??
      doc.manifests?.[0];
    return m ? configDigest(socket, m.digest, depth + 1) : undefined;
  } catch {
    return undefined;
  }
}

/** Images in the CRI namespace, digest-only refs ("name@sha256:...", "sha256:...") included. */
export async function listImages(socket: string): Promise<ContainerdImage[]> {
  const r = await ctr(socket, ['images', 'ls']);
  if (r.code !== 0) throw failure('cannot list images', r);
  const images = parseImageList(r.stdout);
  const ids = new Map<string, string | undefined>();
  for (const img of images) if (!ids.has(img.digest)) ids.set(img.digest, await configDigest(socket, img.digest));
  return images.map((img) => ({ ...img, id: ids.get(img.digest) }));
}

/** Deletes image refs (the content goes with containerd's garbage collection). */
export async function removeImage(socket: string, ref: string): Promise<void> {
  const r = await ctr(socket, ['images', 'rm', ref]);
  // ctr exits 0 for an unknown ref and only warns "image not found": make that an error.
  if (/image not found/.test(r.stderr)) throw new Error(`image ${ref} not found`);
  if (r.code !== 0) throw failure(`cannot remove ${ref}`, r);
}

export async function hasImage(socket: string, ref: string): Promise<boolean> {
  const r = await ctr(socket, ['images', 'ls', '-q']);
  if (r.code !== 0) throw failure('cannot list images', r);
  return r.stdout.split('\n').some((l) => l.trim() === ref);
}
