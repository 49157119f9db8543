// CRDs a component installs for itself (the ingress's route kinds, the snapshot kinds): created,
// or brought up to date when they are k8ts' own, then waited for until served. They are served
// once the CRD controller marks them Established, moments later; an informer started before that
// fails its list and backs off (up to 30 s), delaying the component by as much and logging warnings.
import type { CustomResourceDefinition } from 'kubernetes-types/apiextensions/v1.js';
import { R, type Client } from './client.js';
import { isAlreadyExists } from './errors.js';
import type { ResourceSpec } from './types.js';

/** Creates `want`, or updates the stored one if k8ts manages it; an admin's own definition is left alone. */
export async function ensureOwnCrd(client: Client, want: CustomResourceDefinition): Promise<void> {
  const crds = client.resource(R.customresourcedefinitions);
  try {
    await crds.create(want);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    const have = await crds.get(want.metadata?.name ?? '');
    if (have.metadata?.labels?.['app.kubernetes.io/managed-by'] !== 'k8ts') return;
    if (JSON.stringify(have.spec) === JSON.stringify(want.spec)) return;
    await crds.update({ ...want, metadata: { ...want.metadata, resourceVersion: have.metadata?.resourceVersion } });
  }
}

/**
 * Resolves true once every resource answers a list, false at the deadline (or when `stopped`
 * says so): a kind someone else's CRD does not serve at this version must not hold up the rest.
 */
export async function waitUntilServed(
  client: Client,
  resources: readonly ResourceSpec[],
  opts: { timeoutMs: number; stopped?: () => boolean; intervalMs?: number },
): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  for (const res of resources) {
    for (;;) {
      if (opts.stopped?.() || Date.now() > deadline) return false;
      try {
        await client.resource(res).list({ limit: 1 });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
      }
    }
  }
  return true;
}
