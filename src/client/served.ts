// Waiting for resources a component has just created CRDs for: they are served once the CRD
// controller marks them Established, moments later. An informer started before that fails its
// list and backs off (up to 30 s), delaying the component by as much and logging warnings.
import type { Client } from './client.js';
import type { ResourceSpec } from './types.js';

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
