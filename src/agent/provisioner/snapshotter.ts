// The local-path driver's snapshots (the part a CSI driver and its snapshotter sidecar play
// upstream): for VolumeSnapshotContents of driver k8ts.io/local-path whose volume lives on a node
// this agent serves, a snapshot is a copy of the volume's directory under
// <storage>/snapshots/<content name>, taken into a temporary directory and renamed into place, so
// a snapshot is either whole or absent. The content gets the bound-protection finalizer, then its
// status (snapshotHandle "<node>/<dir>", creationTime in ns, restoreSize = the volume's capacity,
// readyToUse). Deleting a content with deletionPolicy Delete removes the copy; Retain keeps it.
// Pre-provisioned contents (spec.source.snapshotHandle) are checked for their directory.
import type { PersistentVolume } from 'kubernetes-types/core/v1.js';
import { cp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isConflict, isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import { SharedIndexInformer as Informer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import { volumeCapacity } from '../../api/helpers/volumes.js';
import { CONTENT_FINALIZER, VOLUME_SNAPSHOT_CONTENTS, type VolumeSnapshotContent } from '../../client/snapshots.js';

/** A snapshot's location: the node that holds it and its directory's name under snapshots/. */
export interface SnapshotHandle {
  node: string;
  dir: string;
}

export function parseSnapshotHandle(handle: string | undefined): SnapshotHandle | undefined {
  const m = /^([^/]+)\/([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(handle ?? '');
  return m ? { node: m[1], dir: m[2] } : undefined;
}

/** Copies a directory tree whole or not at all: into `<dest>.tmp`, then renamed to `dest`. */
export async function copyTree(src: string, dest: string): Promise<void> {
  const tmp = `${dest}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await cp(src, tmp, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, force: true });
  await rm(dest, { recursive: true, force: true });
  await rename(tmp, dest);
}

/** Total size of the regular files under `dir` (a pre-provisioned snapshot's restore size). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name))).size;
  }
  return total;
}

export interface LocalPathSnapshotterOptions {
  client: Client;
  driver: string;
  logger: Logger;
  /** The directory of the snapshots (<storage>/snapshots). */
  snapshotDir: string;
  nodeName: string;
  servesNode: (node: string) => boolean;
  volumes: SharedIndexInformer<PersistentVolume>;
  /** The node and directory of a volume of ours (undefined: not ours). */
  volumeLocation: (pv: PersistentVolume) => { node: string; path: string } | undefined;
}

export class LocalPathSnapshotter {
  private readonly contents: Informer<VolumeSnapshotContent>;
  private readonly runner: ControllerRunner;
  private readonly log: Logger;

  constructor(private readonly o: LocalPathSnapshotterOptions) {
    this.log = o.logger.child({ component: 'local-path-snapshotter' });
    // Served once the snapshot controller has installed the CRDs: the informer retries until then.
    this.contents = new Informer(o.client, VOLUME_SNAPSHOT_CONTENTS, { logger: this.log, backoffMaxMs: 2000 });
    this.runner = new ControllerRunner({
      name: 'local-path-snapshotter',
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    const on = (c: Stored<VolumeSnapshotContent>) => {
      if (c.spec?.driver === o.driver) this.runner.enqueue(c.metadata.name);
    };
    this.contents.addEventHandler({ add: on, update: (_o, n) => on(n) });
  }

  start(): void {
    this.contents.start();
    this.runner.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.contents.stop(), this.runner.stop()]);
  }

  /** A snapshot's directory on this host, when one of our nodes holds it. */
  locate(handle: string | undefined): string | undefined {
    const h = parseSnapshotHandle(handle);
    return h && this.o.servesNode(h.node) ? join(this.o.snapshotDir, h.dir) : undefined;
  }

  private async sync(name: string): Promise<void> {
    const content = this.contents.indexer.get(name);
    if (!content || content.spec?.driver !== this.o.driver) return;
    const preHandle = content.spec?.source?.snapshotHandle;
    const handle = content.status?.snapshotHandle ?? preHandle;
    let source: { node: string; path: string } | undefined;
    if (handle) {
      if (!this.locate(handle)) return; // another node's
    } else {
      const pv = this.o.volumes.indexer.get(content.spec?.source?.volumeHandle ?? '');
      source = pv && this.o.volumeLocation(pv);
      if (!source) return; // another node's volume (or not a local-path one)
    }
    const rc = this.o.client.resource(VOLUME_SNAPSHOT_CONTENTS);

    if (content.metadata.deletionTimestamp) {
      if (!content.metadata.finalizers?.includes(CONTENT_FINALIZER)) return;
      const dir = this.locate(handle);
      if (dir && content.spec?.deletionPolicy === 'Delete') {
        await rm(dir, { recursive: true, force: true });
        this.log.info({ content: name, dir }, 'deleted snapshot');
      }
      const next = structuredClone(content);
      next.metadata.finalizers = (next.metadata.finalizers ?? []).filter((f) => f !== CONTENT_FINALIZER);
      await rc.update(next).catch((err) => {
        if (!isNotFound(err)) throw err;
      });
      return;
    }
    if (!content.metadata.finalizers?.includes(CONTENT_FINALIZER)) {
      const next = structuredClone(content);
      next.metadata.finalizers = [...(next.metadata.finalizers ?? []), CONTENT_FINALIZER];
      await rc.update(next);
      return; // the update brings it back
    }
    if (content.status?.readyToUse) return;

    let status: NonNullable<VolumeSnapshotContent['status']>;
    if (source) {
      const dir = name;
      const dest = join(this.o.snapshotDir, dir);
      try {
        await copyTree(source.path, dest);
      } catch (err) {
        await this.writeStatus(content, {
          readyToUse: false,
          error: { message: `failed to take snapshot: ${(err as Error).message}`, time: now() },
        });
        throw err;
      }
      const pv = this.o.volumes.indexer.get(content.spec?.source?.volumeHandle ?? '');
      status = {
        snapshotHandle: `${source.node}/${dir}`,
        creationTime: Date.now() * 1e6,
        readyToUse: true,
        restoreSize: volumeCapacity(pv),
      };
      this.log.info({ content: name, from: source.path, to: dest }, 'took snapshot');
    } else {
      const dir = this.locate(handle) ?? '';
      try {
        const st = await stat(dir);
        status = {
          snapshotHandle: handle,
          creationTime: Math.floor(st.mtimeMs) * 1e6,
          readyToUse: true,
          restoreSize: await treeBytes(dir),
        };
      } catch (err) {
        status = {
          snapshotHandle: handle,
          readyToUse: false,
          error: { message: `snapshot ${handle} not found: ${(err as Error).message}`, time: now() },
        };
      }
    }
    await this.writeStatus(content, status);
  }

  private async writeStatus(
    content: Stored<VolumeSnapshotContent>,
    status: NonNullable<VolumeSnapshotContent['status']>,
  ): Promise<void> {
    const next = structuredClone(content);
    next.status = status;
    try {
      await this.o.client.resource(VOLUME_SNAPSHOT_CONTENTS).updateStatus(next);
    } catch (err) {
      if (!isConflict(err)) throw err;
      this.runner.enqueue(content.metadata.name);
    }
  }
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
