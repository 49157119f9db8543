// Reads of virtual (computed, read-only) resources: ResourceDef.virtualList gives the objects,
// this applies the name, namespace and selectors, for both the REST handlers and the in-process
// client transport.
import type { ResourceDef, VirtualReader } from '../api/types.js';
import * as errors from '../machinery/errors.js';
import { parseFieldSelector } from '../machinery/fields.js';
import { parseSelector } from '../machinery/labels.js';
import type { Store } from './store.js';

export function storeReader(tryStore: (group: string, plural: string) => Store | undefined): VirtualReader {
  return {
    list(group, plural, namespace) {
      const s = tryStore(group, plural);
      return s ? s.cache.list(s.keyPrefix(s.def.namespaced ? namespace : undefined)).map((x) => x.obj) : [];
    },
    get(group, plural, namespace, name) {
      return tryStore(group, plural)?.tryGet(namespace, name)?.obj;
    },
  };
}

export interface VirtualQuery {
  namespace?: string;
  name?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** The object named (404 if none) or the list matching the selectors. */
export async function readVirtual(
  def: ResourceDef,
  reader: VirtualReader,
  q: VirtualQuery,
): Promise<{ item?: any; items: any[] }> {
  const ref = { group: def.group, resource: def.plural };
  const ns = def.namespaced ? q.namespace : undefined;
  const labels = parseSelector(q.labelSelector ?? '');
  const fields = parseFieldSelector(q.fieldSelector ?? '');
  for (const f of fields.fields())
    if (f !== 'metadata.name' && f !== 'metadata.namespace') throw errors.badRequest(`field label not supported: ${f}`);
  const all = await def.virtualList!(reader, ns);
  if (q.name !== undefined) {
    const item = all.find((o) => o.metadata?.name === q.name && (!ns || o.metadata?.namespace === ns));
    if (!item) throw errors.notFound(ref, q.name);
    return { item, items: [item] };
  }
  const items = all.filter(
    (o) =>
      (!ns || o.metadata?.namespace === ns) &&
      labels.matches(o.metadata?.labels ?? {}) &&
      fields.matches((f: string) => (f === 'metadata.name' ? o.metadata?.name : (o.metadata?.namespace ?? ''))),
  );
  items.sort((a, b) =>
    `${a.metadata?.namespace ?? ''}/${a.metadata?.name}`.localeCompare(
      `${b.metadata?.namespace ?? ''}/${b.metadata?.name}`,
    ),
  );
  return { items };
}
