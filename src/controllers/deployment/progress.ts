// Rollout progress (upstream pkg/controller/deployment/progress.go and syncRolloutStatus): the
// Progressing condition (new ReplicaSet progressing, complete, or past progressDeadlineSeconds),
// ReplicaFailure from the ReplicaSets, and a requeue for when the deadline would pass.
import type { DeploymentStatus } from 'kubernetes-types/apps/v1.js';
import type { ReconcileResult } from '../../client/controller.js';
import type { Dep, DeploymentSync, RS } from './sync.js';
import * as u from './util.js';

export async function syncRolloutStatus(
  s: DeploymentSync,
  maybeRSs: (RS | undefined)[],
  newRS: RS | undefined,
  d: Dep,
): Promise<ReconcileResult | void> {
  const allRSs = maybeRSs.filter((rs): rs is RS => !!rs);
  const st = u.calculateStatus(allRSs, newRS, d);
  if (!u.hasProgressDeadline(d)) u.removeCondition(st, 'Progressing');
  const currentCond = u.getCondition(d.status, 'Progressing');
  const isComplete = st.replicas === st.updatedReplicas && currentCond?.reason === u.NEW_RS_AVAILABLE_REASON;
  if (u.hasProgressDeadline(d) && !isComplete) {
    if (u.deploymentComplete(d, st)) {
      const msg = newRS
        ? `ReplicaSet "${newRS.metadata.name}" has successfully progressed.`
        : `Deployment "${d.metadata.name}" has successfully progressed.`;
      u.setCondition(st, u.newCondition('Progressing', 'True', u.NEW_RS_AVAILABLE_REASON, msg));
    } else if (u.deploymentProgressing(d, st)) {
      const msg = newRS
        ? `ReplicaSet "${newRS.metadata.name}" is progressing.`
        : `Deployment "${d.metadata.name}" is progressing.`;
      const cond = u.newCondition('Progressing', 'True', u.REPLICA_SET_UPDATED_REASON, msg);
      if (currentCond) {
        if (currentCond.status === 'True') cond.lastTransitionTime = currentCond.lastTransitionTime;
        u.removeCondition(st, 'Progressing');
      }
      u.setCondition(st, cond);
    } else if (u.deploymentTimedOut(d, st)) {
      const msg = newRS
        ? `ReplicaSet "${newRS.metadata.name}" has timed out progressing.`
        : `Deployment "${d.metadata.name}" has timed out progressing.`;
      u.setCondition(st, u.newCondition('Progressing', 'False', u.TIMED_OUT_REASON, msg));
    }
  }
  const failure = replicaFailure(allRSs, newRS);
  if (failure) u.setCondition(st, failure);
  else u.removeCondition(st, 'ReplicaFailure');

  if (u.statusEqual(d.status, st)) return requeueStuck(s, d, st);
  d.status = st;
  await s.writeStatus(d);
}

/** Look again when the progress deadline would pass (upstream requeueStuckDeployment). */
function requeueStuck(s: DeploymentSync, d: Dep, st: DeploymentStatus): ReconcileResult | void {
  const cond = u.getCondition(d.status, 'Progressing');
  if (!u.hasProgressDeadline(d) || !cond) return;
  if (u.deploymentComplete(d, st) || cond.reason === u.TIMED_OUT_REASON) return;
  const after = Date.parse(cond.lastUpdateTime ?? '') + (d.spec?.progressDeadlineSeconds ?? 0) * 1000 - Date.now();
  if (after < 1000) return { requeueAfterMs: 1000 };
  return { requeueAfterMs: after + 1000 };
}

/** The ReplicaFailure condition of the new set (else of any old one), as a Deployment condition. */
function replicaFailure(allRSs: RS[], newRS: RS | undefined): u.DeploymentCondition | undefined {
  const conv = (rs: RS): u.DeploymentCondition | undefined => {
    const c = (rs.status?.conditions ?? []).find((x) => x.type === 'ReplicaFailure');
    if (!c) return undefined;
    return {
      type: 'ReplicaFailure',
      status: c.status,
      lastUpdateTime: c.lastTransitionTime,
      lastTransitionTime: c.lastTransitionTime,
      reason: c.reason,
      message: c.message,
    };
  };
  if (newRS) {
    const c = conv(newRS);
    if (c) return c;
  }
  for (const rs of allRSs) {
    if (newRS && rs.metadata.name === newRS.metadata.name) continue;
    const c = conv(rs);
    if (c) return c;
  }
  return undefined;
}
