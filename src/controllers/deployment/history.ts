// Revision history (upstream cleanupDeployment in sync.go): old, empty ReplicaSets beyond
// revisionHistoryLimit are deleted. Rolling back needs no controller code: `kubectl rollout undo`
// copies an old ReplicaSet's template into the Deployment, which the strategies then roll out.
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { ResourceClient } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import type { Stored } from '../../client/types.js';
import * as u from './util.js';

/** Delete old, empty ReplicaSets beyond revisionHistoryLimit, oldest revisions first. */
export async function cleanupDeployment(
  replicasets: ResourceClient<ReplicaSet>,
  oldRSs: Stored<ReplicaSet>[],
  d: Stored<Deployment>,
): Promise<void> {
  if (!u.hasRevisionHistoryLimit(d)) return;
  const cleanable = oldRSs.filter((rs) => rs && !rs.metadata.deletionTimestamp);
  const diff = cleanable.length - (d.spec?.revisionHistoryLimit ?? 0);
  if (diff <= 0) return;
  cleanable.sort(u.byRevision);
  for (let i = 0; i < diff; i++) {
    const rs = cleanable[i];
    if (
      (rs.status?.replicas ?? 0) !== 0 ||
      (rs.spec?.replicas ?? 1) !== 0 ||
      (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)
    )
      continue;
    try {
      await replicasets.namespace(rs.metadata.namespace).delete(rs.metadata.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
