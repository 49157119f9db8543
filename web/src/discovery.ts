// Every resource kind the server serves, CRDs and aggregated APIs included, from aggregated
// discovery (/api and /apis as apidiscovery.k8s.io/v2): two requests for the whole list.
import { request } from './api.js';

export interface Kind {
  group: string;
  version: string;
  /** The plural resource name (`deployments`). */
  resource: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  subresources: string[];
}

interface DiscoveryResource {
  resource: string;
  responseKind?: { kind?: string };
  scope: 'Namespaced' | 'Cluster';
  verbs?: string[];
  subresources?: { subresource: string }[];
}
interface DiscoveryList {
  items: { metadata: { name?: string }; versions: { version: string; resources: DiscoveryResource[] }[] }[];
}

const ACCEPT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList';

export async function discoverKinds(): Promise<Kind[]> {
  const [core, groups] = await Promise.all([
    request<DiscoveryList>('/api', { accept: ACCEPT }),
    request<DiscoveryList>('/apis', { accept: ACCEPT }),
  ]);
  const kinds: Kind[] = [];
  for (const g of [...core.items, ...groups.items]) {
    // The first version is the group's preferred one.
    const v = g.versions[0];
    if (!v) continue;
    for (const r of v.resources) {
      kinds.push({
        group: g.metadata.name ?? '',
        version: v.version,
        resource: r.resource,
        kind: r.responseKind?.kind ?? r.resource,
        namespaced: r.scope === 'Namespaced',
        verbs: r.verbs ?? [],
        subresources: (r.subresources ?? []).map((s) => s.subresource),
      });
    }
  }
  return kinds.sort((a, b) => a.kind.localeCompare(b.kind));
}

export const apiVersionOf = (k: Pick<Kind, 'group' | 'version'>) => (k.group ? `${k.group}/${k.version}` : k.version);

/** The REST path of a kind's collection (in `namespace` when it is namespaced and one is given). */
export function collectionPath(k: Pick<Kind, 'group' | 'version' | 'resource' | 'namespaced'>, namespace?: string) {
  const base = k.group ? `/apis/${k.group}/${k.version}` : `/api/${k.version}`;
  const ns = k.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  return `${base}${ns}/${k.resource}`;
}

export function objectPath(k: Kind, namespace: string | undefined, name: string, subresource?: string) {
  return `${collectionPath(k, namespace)}/${encodeURIComponent(name)}${subresource ? `/${subresource}` : ''}`;
}

/** The kind an ownerReference (or an Event's involvedObject) names. */
export function findKind(kinds: Kind[], apiVersion: string | undefined, kind: string | undefined): Kind | undefined {
  const group = apiVersion?.includes('/') ? apiVersion.split('/')[0] : '';
  return (
    kinds.find((k) => k.kind === kind && apiVersionOf(k) === apiVersion) ??
    kinds.find((k) => k.kind === kind && k.group === group)
  );
}
