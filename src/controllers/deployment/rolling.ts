// The RollingUpdate strategy (upstream pkg/controller/deployment/rolling.go): scale the new
// ReplicaSet up within maxSurge, then old ones down within maxUnavailable, unhealthy replicas first.
import type { ReconcileResult } from '../../client/controller.js';
import { cleanupDeployment } from './history.js';
import { syncRolloutStatus } from './progress.js';
import type { Dep, DeploymentSync, RS } from './sync.js';
import * as u from './util.js';

export async function rolloutRolling(s: DeploymentSync, d: Dep, rsList: RS[]): Promise<ReconcileResult | void> {
  const got = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true);
  const oldRSs = got.oldRSs;
  const newRS = got.newRS!; // asked to create it: there is one, or the call threw
  const allRSs = [...oldRSs, newRS];
  if (await reconcileNewReplicaSet(s, allRSs, newRS, d)) {
    return syncRolloutStatus(s, s.freshRSs(allRSs), newRS && s.fresh(newRS), d);
  }
  if (await reconcileOldReplicaSets(s, allRSs, u.filterActive(oldRSs), newRS, d)) {
    return syncRolloutStatus(s, s.freshRSs(allRSs), s.fresh(newRS), d);
  }
  if (u.deploymentComplete(d, d.status ?? {})) await cleanupDeployment(s.replicasets, oldRSs, d);
  return syncRolloutStatus(s, allRSs, newRS, d);
}

async function reconcileNewReplicaSet(s: DeploymentSync, allRSs: RS[], newRS: RS, d: Dep): Promise<boolean> {
  const want = u.specReplicas(d);
  const cur = newRS.spec?.replicas ?? 1;
  if (cur === want) return false;
  const target = cur > want ? want : u.newRSNewReplicas(d, allRSs, newRS);
  const r = await s.scaleAndRecord(d, newRS, target);
  s.remember(r.rs);
  return r.scaled;
}

async function reconcileOldReplicaSets(
  s: DeploymentSync,
  allRSs: (RS | undefined)[],
  oldRSs: RS[],
  newRS: RS | undefined,
  d: Dep,
): Promise<boolean> {
  if (u.sumSpec(oldRSs) === 0) return false;
  const maxDown = u.maxScaledDown(d, allRSs, newRS);
  if (maxDown <= 0) return false;
  const { oldRSs: cleaned, count: cleanedUp } = await cleanupUnhealthyReplicas(s, oldRSs, d, maxDown);
  const scaledDown = await scaleDownOldReplicaSetsForRollingUpdate(s, [...cleaned, newRS], cleaned, d);
  return cleanedUp + scaledDown > 0;
}

async function cleanupUnhealthyReplicas(
  s: DeploymentSync,
  oldRSs: RS[],
  d: Dep,
  maxCleanup: number,
): Promise<{ oldRSs: RS[]; count: number }> {
  const sorted = [...oldRSs].sort(u.byCreation);
  let total = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (total >= maxCleanup) break;
    const rs = sorted[i];
    const replicas = rs.spec?.replicas ?? 1;
    const avail = rs.status?.availableReplicas ?? 0;
    if (replicas === 0 || replicas === avail) continue;
    const down = Math.min(maxCleanup - total, replicas - avail);
    const r = await s.scaleAndRecord(d, rs, replicas - down);
    s.remember(r.rs);
    sorted[i] = r.rs;
    total += down;
  }
  return { oldRSs: sorted, count: total };
}

async function scaleDownOldReplicaSetsForRollingUpdate(
  s: DeploymentSync,
  allRSs: (RS | undefined)[],
  oldRSs: RS[],
  d: Dep,
): Promise<number> {
  const minAvailable = u.specReplicas(d) - u.maxUnavailable(d);
  const available = u.sumAvailable(allRSs);
  if (available <= minAvailable) return 0;
  const sorted = [...oldRSs].sort(u.byCreation);
  const want = available - minAvailable;
  let total = 0;
  for (const rs of sorted) {
    if (total >= want) break;
    const replicas = rs.spec?.replicas ?? 1;
    if (replicas === 0) continue;
    const down = Math.min(replicas, want - total);
    const r = await s.scaleAndRecord(d, rs, replicas - down);
    s.remember(r.rs);
    total += down;
  }
  return total;
}
