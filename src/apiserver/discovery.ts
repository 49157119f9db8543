// Discovery documents, legacy (/api, /apis, /apis/g, /apis/g/v) and aggregated
// (apidiscovery.k8s.io v2 and v2beta1), computed from the resource registry and cached until it
// changes.
import { createHash } from 'node:crypto';
import type { ResourceDef } from '../api/types.js';
import { apiVersionOf, type ResourceRegistry, type Served, verbsOf } from './resources.js';
import { compareStrings } from '../machinery/order.js';

export interface SubresourceInfo {
  name: string;
  kind: string;
  group?: string;
  version?: string;
  verbs: string[];
}

/** Subresources a resource has: from its definition plus those the server implements for it. */
export type SubresourceLister = (def: ResourceDef) => SubresourceInfo[];

export function definedSubresources(def: ResourceDef): SubresourceInfo[] {
  const out: SubresourceInfo[] = [];
  if (def.subresources?.status) out.push({ name: 'status', kind: def.kind, verbs: ['get', 'patch', 'update'] });
  if (def.subresources?.scale)
    out.push({ name: 'scale', kind: 'Scale', group: 'autoscaling', version: 'v1', verbs: ['get', 'patch', 'update'] });
  for (const name of def.subresources?.object ?? [])
    out.push({ name, kind: def.kind, verbs: ['get', 'patch', 'update'] });
  return out;
}

/**
 * Group versions served by other servers (remote APIServices, apiserver/aggregator/), merged
 * into the documents; `version` changes whenever what `groups` returns does.
 */
export interface ExtraDiscovery {
  readonly version: number;
  groups(): ExtraGroup[];
  /** A group's place in discovery (higher first), for local and remote groups alike. */
  groupPriority(group: string, versions: readonly string[]): number;
}

export interface ExtraGroup {
  name: string;
  /** Preferred first. */
  versions: { version: string; resources: unknown[]; freshness: 'Current' | 'Stale' }[];
}

interface MergedGroup {
  name: string;
  versions: string[];
  extra: Map<string, ExtraGroup['versions'][number]>;
}

const hash = (s: string) => createHash('sha256').update(s).digest('base64').slice(0, 11);

export class Discovery {
  private cache = new Map<string, string>();
  private cachedAt = '';
  /** Set by the aggregator. */
  extra?: ExtraDiscovery;

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly subresources: SubresourceLister,
    private readonly serverAddress: () => string,
  ) {}

  private memo(key: string, build: () => unknown): string {
    const at = `${this.registry.version}/${this.extra?.version ?? 0}`;
    if (this.cachedAt !== at) {
      this.cache.clear();
      this.cachedAt = at;
    }
    let v = this.cache.get(key);
    if (v === undefined) {
      v = JSON.stringify(build());
      this.cache.set(key, v);
    }
    return v;
  }

  coreVersions(): string {
    return this.memo('api', () => ({
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: this.serverAddress() }],
    }));
  }

  private groupDoc(name: string, versions: string[]) {
    const gv = (v: string) => ({ groupVersion: apiVersionOf(name, v), version: v });
    return { name, versions: versions.map(gv), preferredVersion: gv(versions[0]) };
  }

  /**
   * The groups under /apis: this server's, then with remote ones merged in, all ordered as
   * kube-aggregator orders them (group priority, then name).
   */
  private apiGroups(): MergedGroup[] {
    const local: MergedGroup[] = this.registry
      .groups()
      .filter((g) => g.name !== '')
      .map((g) => ({ name: g.name, versions: g.versions, extra: new Map() }));
    if (!this.extra) return local;
    const byName = new Map(local.map((g) => [g.name, g]));
    for (const g of this.extra.groups()) {
      let merged = byName.get(g.name);
      if (!merged) byName.set(g.name, (merged = { name: g.name, versions: [], extra: new Map() }));
      for (const v of g.versions) {
        if (merged.versions.includes(v.version)) continue;
        merged.versions = [...merged.versions, v.version];
        merged.extra.set(v.version, v);
      }
    }
    const priority = new Map([...byName.values()].map((g) => [g.name, this.extra!.groupPriority(g.name, g.versions)]));
    return [...byName.values()].sort(
      (a, b) => priority.get(b.name)! - priority.get(a.name)! || compareStrings(a.name, b.name),
    );
  }

  groupList(): string {
    return this.memo('apis', () => ({
      kind: 'APIGroupList',
      apiVersion: 'v1',
      groups: this.apiGroups().map((g) => this.groupDoc(g.name, g.versions)),
    }));
  }

  /** undefined when the group is not served. */
  group(name: string): string | undefined {
    const g = this.apiGroups().find((x) => x.name === name && name !== '');
    if (!g) return undefined;
    return this.memo(`group:${name}`, () => ({
      kind: 'APIGroup',
      apiVersion: 'v1',
      ...this.groupDoc(g.name, g.versions),
    }));
  }

  /** undefined when nothing is served at group/version. */
  resourceList(group: string, version: string): string | undefined {
    const served = this.registry.inGroupVersion(group, version);
    if (!served.length) return undefined;
    return this.memo(`rl:${group}/${version}`, () => ({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: apiVersionOf(group, version),
      resources: served.flatMap((s) => this.legacyResources(s)),
    }));
  }

  private legacyResources({ def }: Served): any[] {
    const main: any = {
      name: def.plural,
      singularName: def.singular,
      namespaced: def.namespaced,
      kind: def.kind,
      verbs: [...verbsOf(def)],
    };
    if (def.shortNames?.length) main.shortNames = def.shortNames;
    if (def.categories?.length) main.categories = def.categories;
    main.storageVersionHash = hash(`${def.group}/${def.plural}`);
    const subs = this.subresources(def).map((s) => {
      const r: any = {
        name: `${def.plural}/${s.name}`,
        singularName: '',
        namespaced: def.namespaced,
        kind: s.kind,
        verbs: s.verbs,
      };
      if (s.group !== undefined) r.group = s.group;
      if (s.version !== undefined) r.version = s.version;
      return r;
    });
    return [main, ...subs];
  }

  /** Aggregated discovery: `core` true for /api, false for /apis. */
  aggregated(core: boolean, version: 'v2' | 'v2beta1'): string {
    return this.memo(`agg:${core}:${version}`, () => ({
      kind: 'APIGroupDiscoveryList',
      apiVersion: `apidiscovery.k8s.io/${version}`,
      metadata: {},
      items: (core
        ? this.registry
            .groups()
            .filter((g) => g.name === '')
            .map((g) => ({ ...g, extra: new Map<string, ExtraGroup['versions'][number]>() }))
        : this.apiGroups()
      ).map((g) => ({
        metadata: { name: g.name, creationTimestamp: null },
        versions: g.versions.map(
          (v) =>
            g.extra.get(v) ?? {
              version: v,
              resources: this.registry.inGroupVersion(g.name, v).map((s) => this.aggregatedResource(s, v)),
              freshness: 'Current',
            },
        ),
      })),
    }));
  }

  private aggregatedResource({ def }: Served, version: string): any {
    const r: any = {
      resource: def.plural,
      responseKind: { group: def.group, version, kind: def.kind },
      scope: def.namespaced ? 'Namespaced' : 'Cluster',
      singularResource: def.singular,
      verbs: [...verbsOf(def)],
    };
    if (def.shortNames?.length) r.shortNames = def.shortNames;
    if (def.categories?.length) r.categories = def.categories;
    const subs = this.subresources(def);
    if (subs.length) {
      r.subresources = subs.map((s) => ({
        subresource: s.name,
        responseKind: { group: s.group ?? def.group, version: s.version ?? version, kind: s.kind },
        verbs: s.verbs,
      }));
    }
    return r;
  }
}

export const AGGREGATED_CONTENT_TYPE = (v: string) =>
  `application/json;g=apidiscovery.k8s.io;v=${v};as=APIGroupDiscoveryList`;
