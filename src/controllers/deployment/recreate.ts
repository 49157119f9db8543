// The Recreate strategy (upstream pkg/controller/deployment/recreate.go): scale every old
// ReplicaSet to zero, wait until their pods are gone, then scale the new one up.
import type { ReconcileResult } from '../../client/controller.js';
import { CONTROLLER_INDEX } from '../replicaset/podutil.js';
import { cleanupDeployment } from './history.js';
import { syncRolloutStatus } from './progress.js';
import type { Dep, DeploymentSync, RS } from './sync.js';
import * as u from './util.js';

export async function rolloutRecreate(s: DeploymentSync, d: Dep, rsList: RS[]): Promise<ReconcileResult | void> {
  let { newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(d, rsList, false);
  let allRSs = [...oldRSs, newRS].filter((rs): rs is RS => !!rs);
  let scaledDown = false;
  for (const rs of u.filterActive(oldRSs)) {
    const r = await s.scaleAndRecord(d, rs, 0);
    s.remember(r.rs);
    if (r.scaled) scaledDown = true;
  }
  if (scaledDown) return syncRolloutStatus(s, s.freshRSs(allRSs), newRS && s.fresh(newRS), d);
  if (oldPodsRunning(s, newRS, oldRSs)) return syncRolloutStatus(s, allRSs, newRS, d);
  if (!newRS) {
    ({ newRS, oldRSs } = await s.getAllReplicaSetsAndSyncRevision(d, rsList, true));
    newRS = newRS!; // asked to create it: there is one, or the call threw
    allRSs = [...oldRSs, newRS];
  }
  const r = await s.scaleAndRecord(d, newRS, u.specReplicas(d));
  s.remember(r.rs);
  if (u.deploymentComplete(d, d.status ?? {})) await cleanupDeployment(s.replicasets, oldRSs, d);
  return syncRolloutStatus(s, s.freshRSs(allRSs), s.fresh(newRS), d);
}

function oldPodsRunning(s: DeploymentSync, newRS: RS | undefined, oldRSs: RS[]): boolean {
  if (u.sumActual(oldRSs) > 0) return true;
  for (const rs of oldRSs) {
    for (const pod of s.podInformer.store.byIndex(CONTROLLER_INDEX, `uid:${rs.metadata.uid}`)) {
      if (newRS && rs.metadata.uid === newRS.metadata.uid) continue;
      const phase = pod.status?.phase;
      if (phase === 'Failed' || phase === 'Succeeded') continue;
      return true;
    }
  }
  return false;
}
