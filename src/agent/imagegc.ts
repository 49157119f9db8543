// Image garbage collection, as the kubelet's: when the image filesystem is fuller than the high
// threshold (85%), remove images no container uses — least recently used first — until usage is
// under the low threshold (80%). The sandbox image is never removed.
import type { Logger } from 'pino';
import type { Runtime } from './runtime/types.js';
import { diskinfo } from './hostinfo.js';

export interface ImageGCOptions {
  runtime: Runtime;
  /** A path on the image filesystem (containerd's root). */
  imageFsPath: string;
  pinned: string[];
  highPercent?: number;
  lowPercent?: number;
  logger: Logger;
  /** Disk usage reader (tests replace it). */
  usage?: () => { totalBytes: number; availableBytes: number };
}

export class ImageGC {
  /** When each image was last seen in use (image id → ms). */
  private lastUsed = new Map<string, number>();

  constructor(private o: ImageGCOptions) {}

  /** Notes which images running containers use; call it on every relist. */
  async observe(): Promise<void> {
    const now = Date.now();
    for (const c of await this.o.runtime.listContainers()) if (c.imageRef) this.lastUsed.set(c.imageRef, now);
  }

  /** One collection pass; returns the images removed. */
  async collect(): Promise<string[]> {
    const usage = (this.o.usage ?? (() => diskinfo(this.o.imageFsPath)))();
    if (!usage.totalBytes) return [];
    const usedPercent = ((usage.totalBytes - usage.availableBytes) / usage.totalBytes) * 100;
    if (usedPercent < (this.o.highPercent ?? 85)) return [];
    let toFree = usage.totalBytes - usage.availableBytes - (usage.totalBytes * (this.o.lowPercent ?? 80)) / 100;
    await this.observe();
    const inUse = new Set((await this.o.runtime.listContainers()).map((c) => c.imageRef));
    const candidates = (await this.o.runtime.listImages())
      .filter((i) => !inUse.has(i.id) && !i.repoTags.some((t) => this.o.pinned.includes(t)))
      .sort((a, b) => (this.lastUsed.get(a.id) ?? 0) - (this.lastUsed.get(b.id) ?? 0));
    const removed: string[] = [];
    for (const img of candidates) {
      if (toFree <= 0) break;
      try {
        await this.o.runtime.removeImage(img.id);
        removed.push(img.repoTags[0] ?? img.id);
        toFree -= img.size;
      } catch (err) {
        this.o.logger.warn({ err, image: img.id }, 'image garbage collection could not remove an image');
      }
    }
    if (removed.length)
      this.o.logger.info({ removed, usedPercent: Math.round(usedPercent) }, 'image garbage collection');
    return removed;
  }
}
