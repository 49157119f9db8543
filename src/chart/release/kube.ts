// The cluster side of a release (Helm's kube.Client): manifests parsed into objects, each mapped
// to its resource through discovery, created or patched as Helm 3 does (a three-way strategic
// merge patch; field manager "helm", the release's ownership labels and annotations added),
// deleted, and waited for. `apply` (server-side apply) serves the manifest and compose deployers.
import { spec as typedSpec, type Client } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import { definitionForGVK } from '../../machinery/openapi/definitions.js';
import { createMergePatch, createThreeWayMergePatch } from '../../machinery/patch/threeway.js';
import type { ResourceSpec, Watch } from '../../client/types.js';
import { splitManifests } from '../manifests.js';
import { parseAllYaml } from '../yaml.js';
import { isMap } from '../template/values.js';
import { readiness } from './ready.js';

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

export const RELEASE_NAME_ANNOTATION = 'meta.helm.sh/release-name';
export const RELEASE_NAMESPACE_ANNOTATION = 'meta.helm.sh/release-namespace';

/** Objects of a multi-document manifest, in document order (empty documents dropped). */
export function parseObjects(manifest: string): KubeObject[] {
  const out: KubeObject[] = [];
  for (const doc of splitManifests(manifest)) {
    for (const v of parseAllYaml(doc)) {
      if (!isMap(v)) continue;
      const o = v as unknown as KubeObject;
      if (typeof o.kind !== 'string' || typeof o.apiVersion !== 'string' || !isMap(o.metadata)) continue;
      out.push(o);
    }
  }
  return out;
}

/** "Kind/name" (with the namespace when namespaced): how messages and diffs name an object. */
export function objectKey(o: KubeObject, ns?: string): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return `${group}/${o.kind}/${ns ?? o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

export class ReleaseKube {
  private resources?: Map<string, { plural: string; namespaced: boolean }>;

  constructor(
    readonly client: Client,
    readonly fieldManager = 'helm',
  ) {}

  private async discover(): Promise<void> {
    this.resources = new Map();
    for (const r of await this.client.discover())
      this.resources.set(`${r.group}/${r.kind}`, { plural: r.plural, namespaced: r.namespaced });
  }

  /** The resource of an object and the namespace it lives in (undefined: cluster-scoped). */
  async resolve(o: KubeObject, defaultNs: string): Promise<{ spec: ResourceSpec<KubeObject>; ns?: string }> {
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
    if (!this.resources?.has(`${group}/${o.kind}`)) await this.discover();
    const r = this.resources!.get(`${group}/${o.kind}`);
    if (!r)
      throw new Error(
        `resource mapping not found for name: "${o.metadata.name}" namespace: "${o.metadata.namespace ?? ''}" from "": no matches for kind "${o.kind}" in version "${o.apiVersion}"\nensure CRDs are installed first`,
      );
    return {
      spec: typedSpec<KubeObject>({ group, version, plural: r.plural, namespaced: r.namespaced, kind: o.kind }),
      ns: r.namespaced ? (o.metadata.namespace ?? defaultNs) : undefined,
    };
  }

  async get(o: KubeObject, defaultNs: string): Promise<KubeObject | undefined> {
    const { spec, ns } = await this.resolve(o, defaultNs);
    try {
      return await this.client.resource(spec).namespace(ns).get(o.metadata.name);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** Helm's ownership check: an existing object must belong to this release to be taken over. */
  async checkOwnership(o: KubeObject, defaultNs: string, release: { name: string; namespace: string }): Promise<void> {
    const live = await this.get(o, defaultNs);
    if (!live) return;
    const a = live.metadata.annotations ?? {};
    const problems: string[] = [];
    if (a[RELEASE_NAME_ANNOTATION] !== release.name)
      problems.push(
        a[RELEASE_NAME_ANNOTATION] === undefined
          ? `missing key "${RELEASE_NAME_ANNOTATION}": must be set to "${release.name}"`
          : `key "${RELEASE_NAME_ANNOTATION}" must equal "${release.name}": current value is "${a[RELEASE_NAME_ANNOTATION]}"`,
      );
    if (a[RELEASE_NAMESPACE_ANNOTATION] !== release.namespace)
      problems.push(
        a[RELEASE_NAMESPACE_ANNOTATION] === undefined
          ? `missing key "${RELEASE_NAMESPACE_ANNOTATION}": must be set to "${release.namespace}"`
          : `key "${RELEASE_NAMESPACE_ANNOTATION}" must equal "${release.namespace}": current value is "${a[RELEASE_NAMESPACE_ANNOTATION]}"`,
      );
    if (problems.length === 0) return;
    const where = live.metadata.namespace ? ` in namespace "${live.metadata.namespace}"` : '';
    throw new Error(
      `${o.kind} "${o.metadata.name}"${where} exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: ${problems.join('; annotation validation error: ')}`,
    );
  }

  /** Server-side apply of one object, marked as the release's (label and annotations Helm sets). */
  async apply(o: KubeObject, defaultNs: string, owner?: { name: string; namespace: string }): Promise<KubeObject> {
    const { spec, ns } = await this.resolve(o, defaultNs);
    const body = owned(o, ns, owner);
    return await this.client
      .resource(spec)
      .namespace(ns)
      .patch(o.metadata.name, 'apply', body, { force: true, fieldManager: this.fieldManager });
  }

  /**
   * Helm 3's kube.Client.Update for one object: created when absent; otherwise patched with a
   * three-way strategic merge patch from `original` (the object in the release's previous
   * manifest; the live object when it had none) to `o`, against the live object, so changes made
   * on the cluster to fields the chart does not set survive and fields the chart dropped go.
   * Kinds without a built-in schema (custom resources) get Helm 3's two-way JSON merge patch.
   */
  async upgrade(
    o: KubeObject,
    original: KubeObject | undefined,
    defaultNs: string,
    owner: { name: string; namespace: string },
  ): Promise<KubeObject> {
    const { spec, ns } = await this.resolve(o, defaultNs);
    const body = owned(o, ns, owner);
    const objects = this.client.resource(spec).namespace(ns);
    const live = await this.get(o, defaultNs);
    if (!live) return await objects.create(body, { fieldManager: this.fieldManager });
    const base = original ? owned(original, ns) : configurationOf(live);
    const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
    const definition = definitionForGVK(group, version, o.kind);
    const patch = definition ? createThreeWayMergePatch(base, body, live, definition) : createMergePatch(base, body);
    if (Object.keys(patch).length === 0) return live;
    return await objects.patch(o.metadata.name, definition ? 'strategic' : 'merge', patch, {
      fieldManager: this.fieldManager,
    });
  }

  async create(o: KubeObject, defaultNs: string): Promise<KubeObject> {
    const { spec, ns } = await this.resolve(o, defaultNs);
    const body: KubeObject = { ...o, metadata: { ...o.metadata, ...(ns ? { namespace: ns } : {}) } };
    return await this.client.resource(spec).namespace(ns).create(body);
  }

  /** Deletes an object in the background; true if it existed. */
  async delete(o: KubeObject, defaultNs: string): Promise<boolean> {
    const { spec, ns } = await this.resolve(o, defaultNs);
    try {
      await this.client.resource(spec).namespace(ns).delete(o.metadata.name, { propagationPolicy: 'Background' });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /** Waits until the object is gone (hooks deleted before being created again). */
  async waitDeleted(o: KubeObject, defaultNs: string, deadline: number): Promise<void> {
    while ((await this.get(o, defaultNs)) !== undefined) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.kind} "${o.metadata.name}" to be deleted`);
      await sleep(200);
    }
  }

  /**
   * Waits until every object is ready by Helm's rules (ready.ts), watching each resource type
   * and namespace involved (so the answer comes as soon as the last object is ready, not at the
   * next poll); `progress` hears the objects still waited for whenever that set changes. Throws
   * on timeout or a failed Job. A watch that ends is started again from a fresh list.
   */
  async waitReady(
    objects: KubeObject[],
    defaultNs: string,
    deadline: number,
    progress?: (pending: string[], total: number) => void,
  ): Promise<void> {
    interface Group {
      spec: ResourceSpec<KubeObject>;
      ns?: string;
      names: Set<string>;
      watch?: Watch;
    }
    const groups = new Map<string, Group>();
    const entries: { o: KubeObject; key: string }[] = [];
    for (const o of objects) {
      const { spec, ns } = await this.resolve(o, defaultNs);
      const groupKey = `${spec.group}/${spec.version}/${spec.plural}/${ns ?? ''}`;
      let g = groups.get(groupKey);
      if (!g) groups.set(groupKey, (g = { spec, ns, names: new Set() }));
      g.names.add(o.metadata.name);
      entries.push({ o, key: `${groupKey}/${o.metadata.name}` });
    }
    const live = new Map<string, KubeObject | undefined>();
    let wake: (() => void) | undefined;
    const changed = () => wake?.();
    const start = async (groupKey: string, g: Group) => {
      const resource = this.client.resource(g.spec).namespace(g.ns);
      const single = g.names.size === 1 ? { fieldSelector: `metadata.name=${[...g.names][0]}` } : {};
      const list = await resource.list(single);
      for (const name of g.names) live.set(`${groupKey}/${name}`, undefined);
      for (const item of list.items)
        if (g.names.has(item.metadata.name)) live.set(`${groupKey}/${item.metadata.name}`, item);
      const watch = resource.watch({ ...single, resourceVersion: list.metadata.resourceVersion }, (ev) => {
        const obj = ev.object;
        if (ev.type === 'BOOKMARK' || ev.type === 'ERROR' || !g.names.has(obj?.metadata?.name)) return;
        live.set(`${groupKey}/${obj.metadata.name}`, ev.type === 'DELETED' ? undefined : obj);
        changed();
      });
      g.watch = watch;
      void watch.done.then(() => {
        if (g.watch === watch) g.watch = undefined;
        changed();
      });
    };
    let last = '';
    try {
      for (;;) {
        for (const [groupKey, g] of groups) if (!g.watch) await start(groupKey, g);
        const pending: string[] = [];
        for (const { o, key } of entries) {
          const obj = live.get(key);
          const state = obj ? readiness(obj) : { ready: false, reason: 'not found' };
          if (state.failed) throw new Error(`${o.kind} "${o.metadata.name}" failed: ${state.reason}`);
          if (!state.ready) pending.push(`${o.kind}/${o.metadata.name}${state.reason ? ` (${state.reason})` : ''}`);
        }
        const now = pending.join('\n');
        if (now !== last) progress?.(pending, objects.length);
        last = now;
        if (pending.length === 0) return;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`context deadline exceeded: waiting for ${pending.join(', ')}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 5_000));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        wake = undefined;
      }
    } finally {
      for (const g of groups.values()) g.watch?.stop();
    }
  }

  /** Waits for CRDs to be Established (their resources then served), then refreshes discovery. */
  async waitEstablished(crds: KubeObject[], deadline: number): Promise<void> {
    for (const crd of crds) {
      for (;;) {
        const live = await this.get(crd, '');
        const conditions = ((live?.status as { conditions?: { type: string; status: string }[] } | undefined)
          ?.conditions ?? []) as { type: string; status: string }[];
        if (conditions.some((c) => c.type === 'Established' && c.status === 'True')) break;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for CRD "${crd.metadata.name}" to be established`);
        await sleep(100);
      }
    }
    await this.discover();
  }
}

/** A copy of a manifest object in its namespace, marked as the release's when `owner` is given. */
function owned(o: KubeObject, ns: string | undefined, owner?: { name: string; namespace: string }): KubeObject {
  const body: KubeObject = { ...o, metadata: { ...o.metadata } };
  if (ns) body.metadata.namespace = ns;
  if (owner) {
    body.metadata.labels = { ...body.metadata.labels, 'app.kubernetes.io/managed-by': 'Helm' };
    body.metadata.annotations = {
      ...body.metadata.annotations,
      [RELEASE_NAME_ANNOTATION]: owner.name,
      [RELEASE_NAMESPACE_ANNOTATION]: owner.namespace,
    };
  }
  return body;
}

/**
 * A live object as configuration (the baseline of an object the release adopts): without
 * status and the metadata the server maintains, so a two-way merge patch from it does not try
 * to clear them.
 */
function configurationOf(live: KubeObject): KubeObject {
  const { status: _status, ...rest } = live;
  const { name, namespace, labels, annotations } = live.metadata;
  return { ...rest, metadata: { name, namespace, labels, annotations } };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
