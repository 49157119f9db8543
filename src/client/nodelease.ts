// A node's heartbeat Lease in kube-node-lease, renewed the way the kubelet renews it: get or
// create it (owned by the Node), then update it with a new renewTime; a conflict or a deleted
// lease starts over. Real agents and simulated nodes both use it, each with its own state.
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { R, type Client } from './client.js';
import { isAlreadyExists, isConflict, isNotFound } from './errors.js';
import { NODE_LEASE_NAMESPACE } from '../api/metrics/v1beta1/usage.js';
import { microTime } from '../machinery/time.js';

export interface NodeLeaseState {
  /** The lease as last written (undefined: read it first), without metadata.managedFields. */
  lease?: Lease;
}

/**
 * The lease as a renewal keeps it: an update that carries no managedFields leaves the stored ones
 * as they are, so sending them back at every renewal only costs both sides their encoding.
 */
function kept(l: Lease): Lease {
  if (!l?.metadata?.managedFields) return l;
  const { managedFields: _dropped, ...metadata } = l.metadata;
  return { ...l, metadata };
}

export async function renewNodeLease(
  client: Client,
  state: NodeLeaseState,
  node: { name: string; uid?: string },
  opts: { durationSeconds: number; annotations?: Record<string, string>; now?: number },
): Promise<void> {
  const leases = client.resource(R.leases).namespace(NODE_LEASE_NAMESPACE);
  const now = opts.now ?? Date.now();
  const fill = (l: Lease): Lease => ({
    ...l,
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { ...l.metadata, annotations: { ...(l.metadata?.annotations ?? {}), ...(opts.annotations ?? {}) } },
    spec: {
      ...(l.spec ?? {}),
      holderIdentity: node.name,
      leaseDurationSeconds: opts.durationSeconds,
      renewTime: microTime(now),
    },
  });
  for (let attempt = 0; attempt < 3; attempt++) {
    if (!state.lease) {
      try {
        state.lease = kept(await leases.get(node.name));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        const owner = node.uid ? [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid }] : undefined;
        try {
          state.lease = kept(
            await leases.create(
              fill({
                metadata: {
                  name: node.name,
                  namespace: NODE_LEASE_NAMESPACE,
                  ...(owner ? { ownerReferences: owner } : {}),
                },
              }),
            ),
          );
          return;
        } catch (e) {
          if (!isAlreadyExists(e)) throw e;
          continue;
        }
      }
    }
    try {
      state.lease = kept(await leases.update(fill(state.lease)));
      return;
    } catch (err) {
      state.lease = undefined;
      if (!isConflict(err) && !isNotFound(err)) throw err;
    }
  }
}
