// The CRI handler a pod's sandbox runs under: its RuntimeClass's `handler` (the kubelet's
// runtimeClassManager.LookupRuntimeHandler), or the runtime's default when it names none.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { R, type Client } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';

export async function runtimeHandlerOf(client: Client, pod: Pod): Promise<string> {
  const name = pod.spec?.runtimeClassName;
  if (!name) return '';
  try {
    return (await client.resource(R.runtimeclasses).get(name)).handler;
  } catch (err) {
    if (isNotFound(err)) throw new Error(`RuntimeClass "${name}" not found`, { cause: err });
    throw err;
  }
}
