// The thread behind ClusterLookup: maps apiVersion+kind to its resource and scope through
// discovery, then gets the object (or lists them) as Helm's dynamic client would.
import { Client, spec } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import { serveSync } from '../sync/serve.js';
import type { GoMap } from '../template/values.js';
import type { LookupRequest, LookupTarget } from './lookup.js';

let client: Client | undefined;
let resources: Map<string, { plural: string; namespaced: boolean }> | undefined;
const groups = new Set<string>();

async function discover(c: Client): Promise<void> {
  resources = new Map();
  groups.clear();
  for (const r of await c.discover()) {
    groups.add(r.group);
    resources.set(`${r.group}/${r.kind}`, { plural: r.plural, namespaced: r.namespaced });
  }
}

/** JSON numbers as Go's unstructured decoding gives them: integers as int64 (bigint here). */
function goNumbers(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(goNumbers);
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, goNumbers(x)]));
  return v;
}

async function lookup(req: LookupRequest, target: LookupTarget): Promise<GoMap> {
  client ??= Client.fromKubeconfig(target.kubeconfig, { fieldManager: 'helm', context: target.context });
  const [group, version] = req.apiVersion.includes('/') ? req.apiVersion.split('/') : ['', req.apiVersion];
  const key = `${group}/${req.kind}`;
  if (!resources?.has(key)) await discover(client);
  const r = resources!.get(key);
  if (!r) {
    if (!groups.has(group))
      throw new Error(
        `unable to get apiresource from unstructured: ${group}/${version}, Kind=${req.kind}: the server could not find the requested resource`,
      );
    // Helm finds no resource of that kind in the group version and asks for one named "",
    // which the server does not have: an empty map.
    return {};
  }
  const resource = client
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

serveSync<LookupTarget, LookupRequest, GoMap>(lookup);
