// OCI image archives: building one from an in-memory file list (our test images), and reading
// the two archive formats users bring — OCI image layout tars (`skopeo copy ... oci-archive:`,
// `ctr images export`, buildkit) and docker-archive tars (`docker save`).
import { createHash } from 'node:crypto';
import { gzipSync, gunzipSync } from 'node:zlib';
import { readTar, writeTar, type TarEntry, type TarReadEntry } from './tar.js';
import { compareStrings } from '../../machinery/order.js';

export const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** Annotation containerd's importer reads to name an image; the OCI one is for other tools. */
export const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** The runtime part of an image config (the fields a container start needs). */
export interface ImageRunConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  ExposedPorts?: Record<string, object>;
  User?: string;
  Labels?: Record<string, string>;
}

export interface ImageFile {
  /** Absolute path in the image, e.g. "/bin/busybox". */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  mode?: number;
  data?: Buffer;
  /** Symlink target. */
  target?: string;
}

export interface ImageSpec {
  /** Full reference, e.g. "k8ts.local/busybox:1.35". */
  ref: string;
  files: ImageFile[];
  config: ImageRunConfig;
}

/** Every timestamp in our archives: fixed, so the same inputs give byte-identical images. */
export const FIXED_MTIME = 1704067200; // 2024-01-01T00:00:00Z
const FIXED_CREATED = new Date(FIXED_MTIME * 1000).toISOString().replace('.000Z', 'Z');

export const sha256 = (b: Buffer | string) => 'sha256:' + createHash('sha256').update(b).digest('hex');

/** Go's GOARCH names, which image configs use. */
export function ociArch(arch: string = process.arch): string {
  return (
    (
      {
        x64: 'amd64',
        ia32: '386',
        arm64: 'arm64',
        arm: 'arm',
        ppc64: 'ppc64le',
        s390x: 's390x',
        riscv64: 'riscv64',
      } as Record<string, string>
    )[arch] ?? arch
  );
}

/**
 * Turns an image file list into layer tar entries: parent directories are added when missing,
 * entries are sorted so parents precede children, and later duplicates win.
 */
export function layerEntries(files: ImageFile[]): TarEntry[] {
  const byPath = new Map<string, TarEntry>();
  const addDirs = (p: string) => {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join('/');
      if (!byPath.has(d)) byPath.set(d, { path: d, type: 'dir', mode: 0o755, mtime: FIXED_MTIME });
    }
  };
  for (const f of files) {
    const path = f.path.replace(/^\/+/, '').replace(/\/+$/, '');
    if (!path) continue;
    addDirs(path);
    if (f.type === 'dir') byPath.set(path, { path, type: 'dir', mode: f.mode ?? 0o755, mtime: FIXED_MTIME });
    else if (f.type === 'symlink')
      byPath.set(path, { path, type: 'symlink', mode: 0o777, linkname: f.target ?? '', mtime: FIXED_MTIME });
    else
      byPath.set(path, {
        path,
        type: 'file',
        mode: f.mode ?? 0o644,
        data: f.data ?? Buffer.alloc(0),
        mtime: FIXED_MTIME,
      });
  }
  // Sorting plain path strings would put "a.b" before "a/x" but "a" before both: parents first.
  return [...byPath.values()].sort((a, b) => compareStrings(a.path, b.path));
}

export interface BuiltImage {
  tar: Buffer;
  manifestDigest: string;
  configDigest: string;
  layerDigest: string;
  diffId: string;
}

/** Builds a one-layer OCI image-layout tar for `spec`. */
export function buildOciArchive(spec: ImageSpec): BuiltImage {
  const layerTar = writeTar(layerEntries(spec.files));
  const diffId = sha256(layerTar);
  // Level 9 costs little for our sizes and is as deterministic as any other level.
  const layer = gzipSync(layerTar, { level: 9 });
  const layerDigest = sha256(layer);
  const config = Buffer.from(
    JSON.stringify({
      created: FIXED_CREATED,
      architecture: ociArch(),
      os: 'linux',
      config: spec.config,
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created: FIXED_CREATED, created_by: `k8ts test image ${spec.ref}` }],
    }),
  );
  const configDigest = sha256(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, digest: configDigest, size: config.length },
      layers: [{ mediaType: MEDIA.layerGzip, digest: layerDigest, size: layer.length }],
    }),
  );
  const manifestDigest = sha256(manifest);
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        {
          mediaType: MEDIA.manifest,
          digest: manifestDigest,
          size: manifest.length,
          platform: { architecture: ociArch(), os: 'linux' },
          annotations: { [ANNOTATION_CONTAINERD_NAME]: spec.ref, [ANNOTATION_REF_NAME]: spec.ref },
        },
      ],
    }),
  );
  const blob = (digest: string, data: Buffer): TarEntry => ({
    path: `blobs/sha256/${digest.slice(7)}`,
    type: 'file',
    mode: 0o644,
    data,
    mtime: FIXED_MTIME,
  });
  const tar = writeTar([
    { path: 'blobs', type: 'dir', mode: 0o755, mtime: FIXED_MTIME },
    { path: 'blobs/sha256', type: 'dir', mode: 0o755, mtime: FIXED_MTIME },
    blob(configDigest, config),
    blob(layerDigest, layer),
    blob(manifestDigest, manifest),
    {
      path: 'oci-layout',
      type: 'file',
      mode: 0o644,
      data: Buffer.from('{"imageLayoutVersion":"1.0.0"}'),
      mtime: FIXED_MTIME,
    },
    { path: 'index.json', type: 'file', mode: 0o644, data: index, mtime: FIXED_MTIME },
  ]);
  return { tar, manifestDigest, configDigest, layerDigest, diffId };
}

// ---------------------------------------------------------------------------------------------
// Reading archives

export type ArchiveFormat = 'oci' | 'docker';

/** An OCI index (manifests) or image manifest (config, layers), as the archive walk reads it. */
interface OciDocument<Descriptor> {
  mediaType?: string;
  manifests?: Descriptor[];
  config: { digest: string };
  layers: { digest: string; size: number }[];
}

/** One image found in an archive, with its layers as uncompressed tar buffers (lowest first). */
export interface ArchiveImage {
  /** Names the archive gives the image (may be empty for an unnamed OCI manifest). */
  refs: string[];
  /** Digest of the config blob: the image ID, as the CRI reports it. */
  configDigest: string;
  config: { config?: ImageRunConfig; architecture?: string; os?: string; [k: string]: unknown };
  /** Sum of the (compressed) layer sizes and the config: what `images ls` shows. */
  size: number;
  layers: () => Buffer[];
}

/** Tells the formats apart by their marker files: docker's manifest.json, OCI's oci-layout. */
export function detectFormat(files: Map<string, TarReadEntry>): ArchiveFormat {
  // Docker 25+ writes both; its manifest.json is then the simpler way in, so it wins.
  if (files.has('manifest.json')) return 'docker';
  if (files.has('oci-layout') || files.has('index.json')) return 'oci';
  throw new Error(
    'not an image archive: neither manifest.json (docker-archive) nor oci-layout/index.json (OCI layout) found',
  );
}

/** Uncompresses a layer blob when it is gzip (magic 1f 8b); plain tar layers pass through. */
export function layerTar(blob: Buffer): Buffer {
  return blob.length > 2 && blob[0] === 0x1f && blob[1] === 0x8b ? gunzipSync(blob) : blob;
}

/** Reads every image of an OCI-layout or docker-archive tar. */
export function readImageArchive(archive: Buffer): { format: ArchiveFormat; images: ArchiveImage[] } {
  const files = new Map<string, TarReadEntry>();
  for (const e of readTar(archive)) if (e.type === 'file') files.set(e.path, e);
  const format = detectFormat(files);
  const get = (p: string): Buffer => {
    const e = files.get(p.replace(/^(\.\/)+/, ''));
    if (!e?.data) throw new Error(`image archive is missing ${p}`);
    return e.data;
  };
  const blob = (digest: string) => get(`blobs/${digest.replace(':', '/')}`);
  // The archive's JSON documents are read as the OCI/Docker layouts define them; a malformed one
  // fails where a field it lacks is used, as before.
  const json = (b: Buffer): unknown => JSON.parse(b.toString('utf8'));
  const imageConfig = (b: Buffer) => json(b) as ArchiveImage['config'];

  if (format === 'docker') {
    const manifest = json(get('manifest.json')) as { Config: string; RepoTags?: string[] | null; Layers: string[] }[];
    return {
      format,
      images: manifest.map((m) => {
        const configBuf = get(m.Config);
        return {
          refs: (m.RepoTags ?? []).map(normalizeRef),
          configDigest: sha256(configBuf),
          config: imageConfig(configBuf),
          size: configBuf.length + m.Layers.reduce((n, l) => n + get(l).length, 0),
          layers: () => m.Layers.map((l) => layerTar(get(l))),
        };
      }),
    };
  }

  const images: ArchiveImage[] = [];
  // An index may point at manifests or at nested indexes (multi-platform images): walk it, keeping
  // the name from the outermost descriptor that has one, and pick this machine's platform.
  const visit = (
    desc: {
      mediaType?: string;
      digest: string;
      annotations?: Record<string, string>;
      platform?: { architecture?: string; os?: string };
    },
    name: string | undefined,
  ) => {
    const ann = desc.annotations ?? {};
    const ref =
      ann[ANNOTATION_CONTAINERD_NAME] ??
      (ann[ANNOTATION_REF_NAME] && /[:/@]/.test(ann[ANNOTATION_REF_NAME]) ? ann[ANNOTATION_REF_NAME] : undefined) ??
      name;
    const doc = json(blob(desc.digest)) as OciDocument<typeof desc>;
    const mediaType = desc.mediaType ?? doc.mediaType;
    if (mediaType === MEDIA.index || mediaType === MEDIA.dockerList || Array.isArray(doc.manifests)) {
      const all = doc.manifests as (typeof desc)[]; // an array, tested above
      const mine = all.filter(
        (d) => !d.platform || (d.platform.architecture === ociArch() && (d.platform.os ?? 'linux') === 'linux'),
      );
      const chosen = mine.length ? mine.slice(0, 1) : all.slice(0, 1);
      for (const d of chosen) visit(d, ref);
      return;
    }
    const configBuf = blob(doc.config.digest);
    const layers = doc.layers;
    const configDigest = sha256(configBuf);
    const existing = images.find((i) => i.configDigest === configDigest);
    if (existing) {
      if (ref && !existing.refs.includes(normalizeRef(ref))) existing.refs.push(normalizeRef(ref));
      return;
    }
    images.push({
      refs: ref ? [normalizeRef(ref)] : [],
      configDigest,
      config: imageConfig(configBuf),
      size: configBuf.length + layers.reduce((n, l) => n + blob(l.digest).length, 0),
      layers: () => layers.map((l) => layerTar(blob(l.digest))),
    });
  };
  const index = json(get('index.json')) as { manifests?: Parameters<typeof visit>[0][] };
  for (const d of index.manifests ?? []) visit(d, undefined);
  return { format, images };
}

/**
 * Normalises an image reference as Kubernetes users write it to the form runtimes report:
 * "busybox" → "docker.io/library/busybox:latest"; "k8ts.local/x:1" stays as it is.
 */
export function normalizeRef(ref: string): string {
  let name = ref;
  const first = name.split('/')[0];
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasRegistry) name = `docker.io/${name.includes('/') ? '' : 'library/'}${name}`;
  const lastPart = name.slice(name.lastIndexOf('/') + 1);
  if (!lastPart.includes(':') && !name.includes('@')) name += ':latest';
  return name;
}

/** Whiteout handling when applying a layer: ".wh.<name>" deletes <name>; ".wh..wh..opq" empties the directory. */
export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
