// What remote group versions contribute to discovery: the resource list each extension server
// last answered (read by the availability check, so a dead server costs discovery nothing: its
// version stays listed, Stale, with the resources last seen), converted to the aggregated form
// as upstream's ConvertGroupVersionIntoToDiscovery does, and ordered by the APIServices'
// groupPriorityMinimum and versionPriority.
import type { APIResource, APIResourceList } from 'kubernetes-types/meta/v1.js';
import { localPriorities } from '../../api/apiregistration/v1/index.js';
import { compareVersions } from '../resources.js';
import type { ExtraDiscovery, ExtraGroup } from '../discovery.js';
import type { FetchResult, RemoteAPIService } from './remote.js';

interface AggregatedResource {
  resource: string;
  responseKind: { group: string; version: string; kind: string };
  scope: 'Namespaced' | 'Cluster';
  singularResource: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  subresources?: {
    subresource: string;
    responseKind: { group: string; version: string; kind: string };
    verbs: string[];
  }[];
}

/** Legacy APIResources of one group version → aggregated discovery resources. */
export function toAggregated(group: string, version: string, resources: APIResource[]): AggregatedResource[] {
  const out = new Map<string, AggregatedResource>();
  const kindOf = (r: APIResource) => ({ group: r.group ?? group, version: r.version ?? version, kind: r.kind });
  for (const r of resources) {
    if (r.name.includes('/')) continue;
    const a: AggregatedResource = {
      resource: r.name,
      responseKind: kindOf(r),
      scope: r.namespaced ? 'Namespaced' : 'Cluster',
      singularResource: r.singularName,
      verbs: r.verbs,
    };
    if (r.shortNames?.length) a.shortNames = r.shortNames;
    if (r.categories?.length) a.categories = r.categories;
    out.set(r.name, a);
  }
  for (const r of resources) {
    const [parent, sub] = r.name.split('/', 2);
    if (!sub) continue;
    const p = out.get(parent);
    if (!p) continue;
    (p.subresources ??= []).push({ subresource: sub, responseKind: kindOf(r), verbs: r.verbs });
  }
  return [...out.values()];
}

interface Seen {
  resources: AggregatedResource[];
  fresh: boolean;
}

export class RemoteDiscovery implements ExtraDiscovery {
  private seen = new Map<string, Seen>();
  private generation = 0;

  constructor(private readonly remotes: () => Iterable<RemoteAPIService>) {}

  get version(): number {
    return this.generation;
  }

  /** Something about the remotes changed (an APIService added, removed, changed). */
  changed(): void {
    this.generation++;
  }

  /** The check of `name` read `doc` (undefined: it failed, what was seen is stale now). */
  update(r: RemoteAPIService, doc: FetchResult | undefined): void {
    const before = this.seen.get(r.name);
    let next: Seen;
    if (!doc) next = { resources: before?.resources ?? [], fresh: false };
    else {
      let list: APIResourceList | undefined;
      try {
        list = JSON.parse(doc.body.toString('utf8')) as APIResourceList;
      } catch {
        list = undefined;
      }
      next = list?.resources
        ? { resources: toAggregated(r.group, r.version, list.resources), fresh: true }
        : { resources: before?.resources ?? [], fresh: false };
    }
    if (JSON.stringify(before) === JSON.stringify(next)) return;
    this.seen.set(r.name, next);
    this.generation++;
  }

  forget(name: string): void {
    if (this.seen.delete(name)) this.generation++;
  }

  groups(): ExtraGroup[] {
    const byGroup = new Map<string, RemoteAPIService[]>();
    for (const r of this.remotes()) {
      if (!r.group) continue;
      byGroup.set(r.group, [...(byGroup.get(r.group) ?? []), r]);
    }
    return [...byGroup].map(([name, rs]) => ({
      name,
      versions: rs
        .sort((a, b) => b.versionPriority - a.versionPriority || compareVersions(a.version, b.version))
        .map((r) => {
          const seen = this.seen.get(r.name);
          return {
            version: r.version,
            resources: seen?.resources ?? [],
            freshness: seen?.fresh ? ('Current' as const) : ('Stale' as const),
          };
        }),
    }));
  }

  /** The highest groupPriorityMinimum of the group's APIServices (upstream's group order). */
  groupPriority(group: string, versions: readonly string[]): number {
    let best = 0;
    const remote = new Set<string>();
    for (const r of this.remotes()) {
      if (r.group !== group) continue;
      remote.add(r.version);
      best = Math.max(best, r.groupPriorityMinimum);
    }
    for (const v of versions) if (!remote.has(v)) best = Math.max(best, localPriorities(group, v)[0]);
    return best;
  }
}
