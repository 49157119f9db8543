// The process runtime's images: each imported image is a directory holding its extracted root
// filesystem and a small JSON record (names, ID, size, run config). Everything lives on disk and
// is re-read on every call, so `k8ts image import` in another process is seen by a running agent.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyLayer } from '../../images/extract.js';
import { normalizeRef, readImageArchive, type ImageRunConfig } from '../../images/oci.js';
import type { Image } from '../types.js';

export interface StoredImage extends Image {
  config: ImageRunConfig;
  /** Extracted root filesystem. */
  rootfs: string;
}

interface Record_ {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: number;
  config: ImageRunConfig;
}

/** Paths a container start binds or writes over; created once so the shared rootfs has them. */
const MOUNT_POINTS = {
  dirs: ['proc', 'dev', 'sys', 'tmp', 'etc'],
  files: ['etc/resolv.conf', 'etc/hosts', 'etc/hostname'],
};

export interface ImportProgress {
  (message: string): void;
}

export class ProcessImageStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private record(hex: string): Record_ | undefined {
    try {
      return JSON.parse(readFileSync(join(this.dir, hex, 'image.json'), 'utf8')) as Record_;
    } catch {
      return undefined; // half-imported or foreign directory
    }
  }

  private save(hex: string, rec: Record_): void {
    const tmp = join(this.dir, hex, 'image.json.tmp');
    writeFileSync(tmp, JSON.stringify(rec, null, 1));
    renameSync(tmp, join(this.dir, hex, 'image.json'));
  }

  private stored(hex: string, rec: Record_): StoredImage {
    return {
      id: rec.id,
      repoTags: rec.repoTags,
      repoDigests: rec.repoDigests,
      size: rec.size,
      config: rec.config,
      rootfs: join(this.dir, hex, 'rootfs'),
    };
  }

  list(): StoredImage[] {
    const out: StoredImage[] = [];
    for (const hex of readdirSync(this.dir)) {
      if (!/^[0-9a-f]{64}$/.test(hex)) continue;
      const rec = this.record(hex);
      if (rec) out.push(this.stored(hex, rec));
    }
    return out;
  }

  /** Finds an image by reference ("busybox", "k8ts.local/x:1"), full ID or unambiguous ID prefix. */
  get(ref: string): StoredImage | undefined {
    const images = this.list();
    const id = ref.startsWith('sha256:') ? ref : /^[0-9a-f]{6,64}$/.test(ref) ? `sha256:${ref}` : undefined;
    if (id) {
      const hits = images.filter((i) => i.id.startsWith(id));
      if (hits.length === 1) return hits[0];
    }
    const name = normalizeRef(ref);
    return images.find((i) => i.repoTags.includes(name) || i.repoDigests.includes(name));
  }

  /**
   * Imports every image of an OCI-layout or docker-archive tar; returns the references (or IDs of
   * unnamed images) imported. A tag that pointed at another image moves to the new one.
   */
  import(archive: Buffer, onProgress?: ImportProgress): string[] {
    const { images } = readImageArchive(archive);
    const imported: string[] = [];
    for (const img of images) {
      const hex = img.configDigest.slice(7);
      const label = img.refs[0] ?? img.configDigest.slice(0, 19);
      const dest = join(this.dir, hex);
      if (!this.record(hex)) {
        // Extract beside the final place and rename, so a crash never leaves a half rootfs in use.
        const tmp = join(this.dir, `.tmp-${hex}-${process.pid}`);
        rmSync(tmp, { recursive: true, force: true });
        mkdirSync(join(tmp, 'rootfs'), { recursive: true });
        const layers = img.layers();
        layers.forEach((layer, i) => {
          onProgress?.(
            `${label}: extracting layer ${i + 1}/${layers.length} (${(layer.length / 1048576).toFixed(1)} MiB)`,
          );
          applyLayer(join(tmp, 'rootfs'), layer);
        });
        for (const d of MOUNT_POINTS.dirs) mkdirSync(join(tmp, 'rootfs', d), { recursive: true });
        for (const f of MOUNT_POINTS.files)
          if (!existsSync(join(tmp, 'rootfs', f))) writeFileSync(join(tmp, 'rootfs', f), '');
        rmSync(dest, { recursive: true, force: true });
        renameSync(tmp, dest);
        this.save(hex, {
          id: img.configDigest,
          repoTags: [],
          repoDigests: [],
          size: img.size,
          config: img.config.config ?? {},
        });
      }
      for (const ref of img.refs) this.tag(hex, ref);
      onProgress?.(`${label}: done`);
      imported.push(...(img.refs.length ? img.refs : [img.configDigest]));
    }
    return imported;
  }

  /** Points `ref` at the image `hex`, taking it away from any other image. */
  private tag(hex: string, ref: string): void {
    for (const other of readdirSync(this.dir)) {
      if (other === hex || !/^[0-9a-f]{64}$/.test(other)) continue;
      const rec = this.record(other);
      if (rec?.repoTags.includes(ref)) this.save(other, { ...rec, repoTags: rec.repoTags.filter((t) => t !== ref) });
    }
    const rec = this.record(hex);
    if (rec && !rec.repoTags.includes(ref)) this.save(hex, { ...rec, repoTags: [...rec.repoTags, ref] });
  }

  /**
   * Removes a reference; the image itself goes when it was addressed by ID or its last name
   * went. Containers already running keep their rootfs open on the host but lose the files.
   */
  remove(ref: string): boolean {
    const img = this.get(ref);
    if (!img) return false;
    const hex = img.id.slice(7);
    const name = normalizeRef(ref);
    const byName = img.repoTags.includes(name);
    const left = img.repoTags.filter((t) => t !== name);
    if (byName && left.length) {
      const rec = this.record(hex)!;
      this.save(hex, { ...rec, repoTags: left });
    } else {
      rmSync(join(this.dir, hex), { recursive: true, force: true });
    }
    return true;
  }
}
