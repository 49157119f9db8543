// Helm's `lookup` answered by the cluster through a Client (pkg/engine/lookup_func.go): the live
// object as a map, the list (a map with `items`) when the name is "", an empty map when not found;
// other errors fail the render. The passes that call it are renderWithLookups' (lookup.ts).
import { spec, type Client } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import type { GoMap } from '../template/values.js';
import type { LookupRequest, LookupSource } from './lookup.js';

/** JSON numbers as Go's unstructured decoding gives them: integers as int64 (bigint here). */
function goNumbers(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(goNumbers);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, goNumbers(x)]));
  return v;
}

/** Answers lookups over a Client, mapping apiVersion and kind to a resource by discovery. */
export class ClusterLookup implements LookupSource {
  private resources?: Map<string, { plural: string; namespaced: boolean }>;
  private readonly groups = new Set<string>();

  constructor(private readonly client: Client) {}

  private async discover(): Promise<void> {
    this.resources = new Map();
    this.groups.clear();
    for (const r of await this.client.discover()) {
      this.groups.add(r.group);
      this.resources.set(`${r.group}/${r.kind}`, { plural: r.plural, namespaced: r.namespaced });
    }
  }

  async get(req: LookupRequest): Promise<GoMap> {
    const [group, version] = req.apiVersion.includes('/') ? req.apiVersion.split('/') : ['', req.apiVersion];
    const key = `${group}/${req.kind}`;
    if (!this.resources?.has(key)) await this.discover();
    const r = this.resources!.get(key);
    if (!r) {
      if (!this.groups.has(group))
        throw new Error(
          `unable to get apiresource from unstructured: ${group}/${version}, Kind=${req.kind}: the server could not find the requested resource`,
        );
      // Helm finds no resource of that kind in the group version and asks for one named "",
      // which the server does not have: an empty map.
      return {};
    }
    const resource = this.client
      .resource(spec<GoMap>({ group, version, plural: r.plural, namespaced: r.namespaced, kind: req.kind }))
      .namespace(r.namespaced && req.namespace !== '' ? req.namespace : undefined);
    try {
      const got: unknown = req.name !== '' ? await resource.get(req.name) : await resource.list();
      return goNumbers(got) as GoMap;
    } catch (e) {
      // Not found is an empty map, so templates can write `if not (lookup ...)`.
      if (isNotFound(e)) return {};
      throw e;
    }
  }
}
