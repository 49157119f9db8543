// k3s's deploy controller: every .yaml/.yml/.json file in DATA/server/manifests is applied and
// kept in sync. Each file is an Addon (k3s.cattle.io/v1, kube-system, named after the file) whose
// spec carries the path and checksum; a changed file is applied again and objects it no longer
// holds are deleted; a removed (or `--disable`d, or `NAME.yaml.skip`-ed) file takes its objects
// with it. Objects carry k3s's objectset owner annotations. HelmChart files are ordinary objects
// here; the HelmChart controller installs their charts.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Logger } from 'pino';
import { spec, type Client } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import { sortByKind } from '../manifests.js';
import { objectKey, parseObjects, ReleaseKube, type KubeObject } from '../release/kube.js';

interface Addon extends KubeObject {
  spec?: { source?: string; checksum?: string };
}

const ADDONS = spec<Addon>({
  group: 'k3s.cattle.io',
  version: 'v1',
  plural: 'addons',
  namespaced: true,
  kind: 'Addon',
});
const ADDON_NS = 'kube-system';
/** What an Addon applied last (so a later version or removal can delete what is gone). */
const APPLIED_ANNOTATION = 'k8ts.io/applied-objects';
const OWNER_GVK = 'objectset.rio.cattle.io/owner-gvk';
const OWNER_NAME = 'objectset.rio.cattle.io/owner-name';
const OWNER_NAMESPACE = 'objectset.rio.cattle.io/owner-namespace';

interface Ref {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

export interface ManifestsOptions {
  dir: string;
  /** Files (by name without extension) not to deploy, and to remove if deployed (`--disable`). */
  disable?: string[];
  /** How often the directory is read again (ms). */
  intervalMs?: number;
}

const toObject = (r: Ref): KubeObject => ({
  apiVersion: r.apiVersion,
  kind: r.kind,
  metadata: { name: r.name, ...(r.namespace ? { namespace: r.namespace } : {}) },
});

export class ManifestsDeployer {
  private readonly kube: ReleaseKube;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly client: Client,
    private readonly opts: ManifestsOptions,
    private readonly logger: Logger,
  ) {
    this.kube = new ReleaseKube(client, 'k8ts-deploy');
  }

  start(): void {
    mkdirSync(this.opts.dir, { recursive: true });
    const tick = () => {
      this.running = this.sync()
        .catch((err) => this.logger.warn({ err }, 'manifests: sync failed'))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 2000);
        });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** The deployable files: name (without extension) → path. */
  private files(): Map<string, string> {
    const out = new Map<string, string>();
    const disabled = new Set(this.opts.disable ?? []);
    const entries = existsSync(this.opts.dir) ? readdirSync(this.opts.dir).sort() : [];
    for (const f of entries) {
      if (f.startsWith('.') || !/\.(ya?ml|json)$/.test(f)) continue;
      const name = basename(f, extname(f));
      if (disabled.has(name) || entries.includes(`${f}.skip`)) continue;
      out.set(name, join(this.opts.dir, f));
    }
    return out;
  }

  /** One pass: apply new and changed files, remove what vanished. */
  async sync(): Promise<void> {
    const files = this.files();
    const addons = this.client.resource(ADDONS).namespace(ADDON_NS);
    const existing = (await addons.list()).items.filter((a) => a.spec?.source?.startsWith(this.opts.dir + '/'));
    for (const [name, path] of files) {
      const text = readFileSync(path, 'utf8');
      const checksum = createHash('sha256').update(text).digest('hex');
      const addon = existing.find((a) => a.metadata.name === name);
      if (addon?.spec?.checksum === checksum) continue;
      try {
        await this.deploy(name, path, text, checksum, addon);
      } catch (err) {
        this.logger.warn({ err, file: path }, 'manifests: cannot apply file; retrying');
      }
    }
    for (const addon of existing) {
      if (files.has(addon.metadata.name)) continue;
      await this.prune(this.applied(addon), []);
      try {
        await addons.delete(addon.metadata.name);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      this.logger.info({ addon: addon.metadata.name }, 'manifests: removed');
    }
  }

  private applied(addon: Addon | undefined): Ref[] {
    try {
      return JSON.parse(addon?.metadata.annotations?.[APPLIED_ANNOTATION] ?? '[]') as Ref[];
    } catch {
      return [];
    }
  }

  private async deploy(name: string, path: string, text: string, checksum: string, addon?: Addon): Promise<void> {
    const objects = sortByKind(parseObjects(text));
    const refs: Ref[] = [];
    const crds: KubeObject[] = [];
    for (const o of objects) {
      if (crds.length > 0 && o.kind !== 'CustomResourceDefinition')
        await this.kube.waitEstablished(crds.splice(0), Date.now() + 30_000);
      const marked: KubeObject = {
        ...o,
        metadata: {
          ...o.metadata,
          annotations: {
            ...o.metadata.annotations,
            [OWNER_GVK]: 'k3s.cattle.io/v1, Kind=Addon',
            [OWNER_NAME]: name,
            [OWNER_NAMESPACE]: ADDON_NS,
          },
        },
      };
      const applied = await this.kube.apply(marked, ADDON_NS);
      if (o.kind === 'CustomResourceDefinition') crds.push(o);
      refs.push({
        apiVersion: o.apiVersion,
        kind: o.kind,
        name: o.metadata.name,
        namespace: applied.metadata.namespace,
      });
    }
    await this.prune(this.applied(addon), refs);
    await this.client
      .resource(ADDONS)
      .namespace(ADDON_NS)
      .patch(
        name,
        'apply',
        {
          apiVersion: 'k3s.cattle.io/v1',
          kind: 'Addon',
          metadata: { name, namespace: ADDON_NS, annotations: { [APPLIED_ANNOTATION]: JSON.stringify(refs) } },
          spec: { source: path, checksum },
        },
        { force: true, fieldManager: 'k8ts-deploy' },
      );
    this.logger.info({ addon: name, objects: refs.length }, 'manifests: applied');
  }

  /** Deletes what `before` holds and `after` does not, last applied first. */
  private async prune(before: Ref[], after: Ref[]): Promise<void> {
    const keep = new Set(after.map((r) => objectKey(toObject(r))));
    for (const r of [...before].reverse()) {
      if (keep.has(objectKey(toObject(r)))) continue;
      try {
        await this.kube.delete(toObject(r), ADDON_NS);
      } catch (err) {
        this.logger.warn({ err, object: r }, 'manifests: cannot delete');
      }
    }
  }
}
