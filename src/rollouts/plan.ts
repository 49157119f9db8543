// The Rollout controller's decisions, as a pure function of what it observes: from the Rollout,
// its ReplicaSets (by pod-template hash), the hash its active Service selects, the new pods'
// restarts, the pre-promotion check's result and the time, `planRollout` says how big each
// ReplicaSet should be, which hash each Service should select, the canary's traffic weight, the
// new status and the events — the controller (controller.ts) only reads and writes objects.
//
// The flow follows Argo Rollouts (rollout/bluegreen.go, rollout/canary.go):
// - blue/green: the new ReplicaSet is scaled up behind the preview Service; once all its pods are
//   available (and the pre-promotion check passed, and a pause, if any, is over) the active
//   Service is switched to it and the old one is scaled down scaleDownDelaySeconds later.
// - canary: each setWeight step scales the new ReplicaSet to its share of the replicas (and sets
//   the routers' weights when trafficRouting names them); a pause waits for its duration or for
//   a promote; after the last step the new ReplicaSet becomes the stable one.
// - abort (by hand, or by itself when the new pods make no progress for progressDeadlineSeconds
//   or restart repeatedly): every Service goes back to the stable ReplicaSet, the new one is
//   scaled to zero, the phase is Degraded until the template changes or a retry.
import type { PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { ReplicaSet } from 'kubernetes-types/apps/v1.js';
import { formatLabelSelector } from '../machinery/labels.js';
import {
  POD_HASH_LABEL,
  REVISION_ANNOTATION,
  ROLLOUT_API_VERSION,
  ROLLOUT_KIND,
  type AnalysisRunArgument,
  type AnalysisRunStatus,
  type AnalysisTemplateRef,
  type PauseReason,
  type Rollout,
  type RolloutCondition,
  type RolloutPhase,
  type RolloutStatus,
} from './types.js';

/** A container restarting this often in the new ReplicaSet aborts the update (k8ts' threshold). */
export const RESTART_LIMIT = 3;
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;
export const DEFAULT_SCALE_DOWN_DELAY_SECONDS = 30;

/** What the controller sees of one ReplicaSet. */
export interface ReplicaSetView {
  name: string;
  hash: string;
  /** spec.replicas */
  replicas: number;
  /** status.replicas, readyReplicas, availableReplicas */
  current: number;
  ready: number;
  available: number;
  revision: number;
  /** The scale-down-deadline annotation (RFC 3339), when set. */
  scaleDownDeadline?: string;
}

export interface PlanInput {
  rollout: Rollout;
  /** The pod template's hash (computeHash of the resolved template). */
  hash: string;
  replicaSets: ReplicaSetView[];
  /** The rollouts-pod-template-hash the active Service selects now (blue/green). */
  activeSelector?: string;
  /** The most restarts of any container in the new ReplicaSet's pods. */
  newPodRestarts?: number;
  /** The pre-promotion check's result for this hash, once started (k8ts' simple form). */
  analysis?: AnalysisRunStatus;
  /** The Rollout's AnalysisRuns by name, with their phase. */
  runs?: Map<string, AnalysisRunStatus>;
  now: number;
}

/** An AnalysisRun to create from the Rollout's templates. */
export interface PlannedRun {
  name: string;
  /** step, background, pre or post (the rollouts-pod-template-hash label and the run's type). */
  type: 'Step' | 'Background' | 'PrePromotion' | 'PostPromotion';
  analysis: { templates?: AnalysisTemplateRef[]; args?: AnalysisRunArgument[] };
}

export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface RolloutPlan {
  status: RolloutStatus;
  /** The new ReplicaSet does not exist yet: create it (with these replicas). */
  createReplicaSet?: { replicas: number };
  /** Desired spec.replicas by hash, and the scale-down deadline to set (string) or clear (null). */
  scale: Map<string, { replicas: number; deadline?: string | null }>;
  /** Service name → the hash its selector should have. */
  services: Map<string, string>;
  /** The canary's traffic weight for the routers named in trafficRouting. */
  canaryWeight?: number;
  /** The pre-promotion check should run (or be polled) for this hash. */
  runAnalysis?: boolean;
  /** AnalysisRuns to create, and the ones still wanted (others not finished are terminated). */
  createRuns: PlannedRun[];
  keepRuns: Set<string>;
  events: PlannedEvent[];
  requeueAfterMs?: number;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** A pause duration in seconds: an integer, a numeric string, or a Go duration like 30s/1m/1h. */
export function pauseSeconds(d: number | string | undefined): number | undefined {
  if (d === undefined) return undefined;
  if (typeof d === 'number') return d;
  if (/^\d+$/.test(d)) return Number(d);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(d))) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    end = re.lastIndex;
  }
  return end === d.length && end > 0 ? Math.floor(total) : undefined;
}

/** Canary pods for a traffic weight (Argo's basic canary rounds up, so any weight gets a pod). */
export function canaryReplicas(replicas: number, weight: number): number {
  return Math.min(replicas, Math.ceil((replicas * weight) / 100));
}

/** The weight in force at step index `idx` (the last setWeight at or before it; 100 past the end). */
export function weightAtStep(steps: { setWeight?: number }[], idx: number): number {
  if (idx >= steps.length) return 100;
  for (let i = idx; i >= 0; i--) if (steps[i]?.setWeight !== undefined) return steps[i].setWeight!;
  return 0;
}

/** Argo's CalculateRolloutPhase, over the fields k8ts keeps. */
export function rolloutPhase(ro: Rollout, status: RolloutStatus): { phase: RolloutPhase; message: string } {
  for (const c of status.conditions ?? []) {
    if (c.type === 'InvalidSpec') return { phase: 'Degraded', message: `InvalidSpec: ${c.message}` };
    if (c.reason === 'RolloutAborted' || c.reason === 'ProgressDeadlineExceeded')
      return { phase: 'Degraded', message: `${c.reason}: ${c.message}` };
  }
  if (ro.spec.paused) return { phase: 'Paused', message: 'manually paused' };
  const pause = status.pauseConditions?.[0];
  if (pause) return { phase: 'Paused', message: pause.reason };
  const replicas = ro.spec.replicas ?? 1;
  if ((status.updatedReplicas ?? 0) < replicas)
    return { phase: 'Progressing', message: 'more replicas need to be updated' };
  if ((status.availableReplicas ?? 0) < (status.updatedReplicas ?? 0))
    return { phase: 'Progressing', message: 'updated replicas are still becoming available' };
  if (ro.spec.strategy.blueGreen) {
    const active = status.blueGreen?.activeSelector;
    if (!active || active !== status.currentPodHash)
      return { phase: 'Progressing', message: 'active service cutover pending' };
  } else if (ro.spec.strategy.canary) {
    if (!ro.spec.strategy.canary.trafficRouting && (status.replicas ?? 0) > (status.updatedReplicas ?? 0))
      return { phase: 'Progressing', message: 'old replicas are pending termination' };
  }
  if (!status.stableRS || status.stableRS !== status.currentPodHash)
    return { phase: 'Progressing', message: 'waiting for all steps to complete' };
  return { phase: 'Healthy', message: '' };
}

function setCondition(
  status: RolloutStatus,
  type: string,
  value: boolean,
  reason: string,
  message: string,
  now: string,
  progressed = false,
): void {
  const conds = (status.conditions ??= []);
  const want = value ? 'True' : 'False';
  const i = conds.findIndex((c) => c.type === type);
  const old = i >= 0 ? conds[i] : undefined;
  const changed = !old || old.status !== want || old.reason !== reason || old.message !== message;
  const cond: RolloutCondition = {
    type,
    status: want,
    lastUpdateTime: changed || progressed ? now : old.lastUpdateTime,
    lastTransitionTime: !old || old.status !== want ? now : old.lastTransitionTime,
    reason,
    message,
  };
  if (i >= 0) conds[i] = cond;
  else conds.push(cond);
}

const conditionOf = (status: RolloutStatus, type: string) => status.conditions?.find((c) => c.type === type);

/** The Rollout's ReplicaSet for a hash: its template labelled with the hash, owned by the Rollout. */
export function newReplicaSet(ro: Rollout, template: PodTemplateSpec, hash: string, revision: number): ReplicaSet {
  const tpl: PodTemplateSpec = structuredClone(template);
  tpl.metadata = { ...tpl.metadata, labels: { ...tpl.metadata?.labels, [POD_HASH_LABEL]: hash } };
  const selector = structuredClone(ro.spec.selector ?? { matchLabels: template.metadata?.labels ?? {} });
  selector.matchLabels = { ...selector.matchLabels, [POD_HASH_LABEL]: hash };
  const meta = ro.metadata ?? {};
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${meta.name}-${hash}`,
      namespace: meta.namespace,
      labels: { ...tpl.metadata.labels },
      annotations: { [REVISION_ANNOTATION]: String(revision) },
      ownerReferences: [
        {
          apiVersion: ROLLOUT_API_VERSION,
          kind: ROLLOUT_KIND,
          name: meta.name ?? '',
          uid: meta.uid ?? '',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { replicas: 0, minReadySeconds: ro.spec.minReadySeconds, selector, template: tpl },
  };
}

export function planRollout(input: PlanInput): RolloutPlan {
  const { rollout: ro, hash, now } = input;
  const nowIso = iso(now);
  const st: RolloutStatus = structuredClone(ro.status ?? {});
  const replicas = ro.spec.replicas ?? 1;
  const bg = ro.spec.strategy.blueGreen;
  const canary = ro.spec.strategy.canary;
  const steps = canary?.steps ?? [];
  const plan: RolloutPlan = {
    status: st,
    scale: new Map(),
    services: new Map(),
    events: [],
    createRuns: [],
    keepRuns: new Set(),
  };
  const byHash = new Map(input.replicaSets.map((rs) => [rs.hash, rs]));
  const newRS = byHash.get(hash);
  const revision = newRS?.revision ?? Math.max(0, ...input.replicaSets.map((rs) => rs.revision)) + 1;
  const wake = (ms: number) => {
    plan.requeueAfterMs = Math.max(100, Math.min(plan.requeueAfterMs ?? Infinity, ms));
  };
  const before = {
    updated: st.updatedReplicas ?? 0,
    ready: st.readyReplicas ?? 0,
    available: st.availableReplicas ?? 0,
    step: st.currentStepIndex,
  };

  // A new template starts a new update: per-update state goes (an abort with it, as Argo's).
  let progressed = false;
  if (st.currentPodHash !== hash) {
    if (st.currentPodHash)
      plan.events.push({
        type: 'Normal',
        reason: 'RolloutUpdated',
        message: `Rollout updated to revision ${revision}`,
      });
    st.currentPodHash = hash;
    st.currentStepIndex = canary ? 0 : undefined;
    st.pauseConditions = undefined;
    st.controllerPause = undefined;
    st.abort = undefined;
    st.abortedAt = undefined;
    st.promoteFull = undefined;
    if (st.blueGreen)
      st.blueGreen.prePromotionAnalysisRunStatus = st.blueGreen.postPromotionAnalysisRunStatus = undefined;
    if (st.canary) st.canary.currentStepAnalysisRunStatus = st.canary.currentBackgroundAnalysisRunStatus = undefined;
    progressed = true;
  }
  if (!newRS) plan.createReplicaSet = { replicas: 0 };

  const stable = st.stableRS && byHash.has(st.stableRS) ? st.stableRS : undefined;
  const initial = !stable;
  const others = input.replicaSets.filter((rs) => rs.hash !== hash && rs.hash !== stable);
  const newAvailable = newRS?.available ?? 0;

  let abortMessage: string | undefined;
  const abort = (reason: string, message: string) => {
    abortMessage = message;
    st.abort = true;
    st.abortedAt = nowIso;
    plan.events.push({ type: 'Warning', reason, message });
  };
  /** Aborts in this pass: the new version scaled away, every Service and router on stable. */
  const abortNow = (why: string) => {
    abort('RolloutAborted', `Rollout aborted update to revision ${revision}: ${why}`);
    plan.scale.set(hash, { replicas: 0 });
    if (stable) {
      plan.scale.set(stable, { replicas });
      pointAll(stable);
    }
    if (canary?.trafficRouting) plan.canaryWeight = 0;
    st.pauseConditions = undefined;
    st.controllerPause = undefined;
  };
  /** The AnalysisRun `suffix` of this update (Argo's names): created when missing, else its phase. */
  const runFor = (suffix: string, type: PlannedRun['type'], analysis: PlannedRun['analysis']): AnalysisRunStatus => {
    const name = `${ro.metadata?.name}-${hash}-${revision}${suffix}`;
    plan.keepRuns.add(name);
    const got = input.runs?.get(name);
    if (got) return got;
    plan.createRuns.push({ name, type, analysis });
    return { name, status: 'Pending' };
  };
  const failed = (r: AnalysisRunStatus | undefined) => r?.status === 'Failed' || r?.status === 'Error';
  const analysisFailure = (r: AnalysisRunStatus) =>
    `analysis run ${r.name} ${r.status}${r.message ? `: ${r.message}` : ''}`;
  const pointAll = (target: string) => {
    if (bg) {
      plan.services.set(bg.activeService, target);
      if (bg.previewService) plan.services.set(bg.previewService, target);
    }
    if (canary?.stableService) plan.services.set(canary.stableService, target);
    if (canary?.canaryService) plan.services.set(canary.canaryService, target);
  };
  /** Old ReplicaSets go to zero, after `delaySeconds` once marked. */
  const scaleDown = (rss: ReplicaSetView[], delaySeconds: number) => {
    for (const rs of rss) {
      if (rs.replicas === 0) {
        if (rs.scaleDownDeadline) plan.scale.set(rs.hash, { replicas: 0, deadline: null });
        continue;
      }
      const deadline = rs.scaleDownDeadline ? Date.parse(rs.scaleDownDeadline) : NaN;
      if (Number.isNaN(deadline) && delaySeconds > 0) {
        plan.scale.set(rs.hash, { replicas: rs.replicas, deadline: iso(now + delaySeconds * 1000) });
        wake(delaySeconds * 1000);
      } else if (!Number.isNaN(deadline) && deadline > now) wake(deadline - now);
      else plan.scale.set(rs.hash, { replicas: 0, deadline: null });
    }
  };

  // Automatic abort: the new pods crash-loop, or make no progress within the deadline.
  const waitingForPods = () => (plan.scale.get(hash)?.replicas ?? newRS?.replicas ?? 0) > newAvailable;
  if (!initial && stable !== hash && !st.abort && !ro.spec.paused && !st.pauseConditions?.length) {
    if ((input.newPodRestarts ?? 0) >= RESTART_LIMIT)
      abort(
        'RolloutAborted',
        `Rollout aborted update to revision ${revision}: pods of ReplicaSet "${newRS?.name}" restarted ${input.newPodRestarts} times`,
      );
  }

  if (initial) {
    // The first version: all replicas at once, every Service at it, no steps or pauses.
    plan.scale.set(hash, { replicas });
    pointAll(hash);
    if (canary) st.currentStepIndex = steps.length;
    if (newRS && newAvailable >= replicas && newRS.replicas >= replicas) st.stableRS = hash;
    scaleDown(others, 0);
    if (canary?.trafficRouting) plan.canaryWeight = 0;
  } else if (stable === hash) {
    // Fully promoted (or rolled back to the stable template).
    plan.scale.set(hash, { replicas });
    pointAll(hash);
    if (canary) st.currentStepIndex = steps.length;
    st.pauseConditions = undefined;
    st.controllerPause = undefined;
    st.abort = undefined;
    const delay = bg
      ? (bg.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS)
      : canary?.trafficRouting
        ? (canary.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS)
        : 0;
    scaleDown(others, delay);
    if (canary?.trafficRouting) plan.canaryWeight = 0;
  } else if (st.abort) {
    // Aborted: back to stable, the new version scaled away.
    plan.scale.set(stable, { replicas });
    plan.scale.set(hash, { replicas: 0 });
    pointAll(stable);
    if (canary?.trafficRouting) plan.canaryWeight = 0;
    st.pauseConditions = undefined;
    st.controllerPause = undefined;
    scaleDown(others, 0);
  } else if (bg) {
    planBlueGreen();
  } else if (canary) {
    planCanary();
  }

  function pauseFor(reason: PauseReason, seconds: number | undefined): 'paused' | 'done' {
    const cond = st.pauseConditions?.find((p) => p.reason === reason);
    if (cond) {
      if (seconds !== undefined) {
        const left = Date.parse(cond.startTime) + seconds * 1000 - now;
        if (left <= 0) {
          st.pauseConditions = st.pauseConditions?.filter((p) => p !== cond);
          if (!st.pauseConditions?.length) st.pauseConditions = undefined;
          st.controllerPause = undefined;
          return 'done';
        }
        wake(left);
      }
      return 'paused';
    }
    // Paused before and the condition is gone: a promote cleared it.
    if (st.controllerPause) {
      st.controllerPause = undefined;
      return 'done';
    }
    (st.pauseConditions ??= []).push({ reason, startTime: nowIso });
    st.controllerPause = true;
    plan.events.push({ type: 'Normal', reason: 'RolloutPaused', message: 'Rollout is paused' });
    if (seconds !== undefined) wake(seconds * 1000);
    return 'paused';
  }

  function planBlueGreen(): void {
    const b = bg!;
    const s = stable!;
    // Switched already, waiting for the post-promotion analysis: the checks before are done.
    const switched = input.activeSelector === hash;
    plan.scale.set(hash, { replicas: switched ? replicas : (b.previewReplicaCount ?? replicas) });
    plan.scale.set(s, { replicas });
    if (b.previewService) plan.services.set(b.previewService, hash);
    plan.services.set(b.activeService, switched ? hash : s);
    scaleDown(others, 0);
    if (ro.spec.paused) return;
    if (switched) {
      promote();
      return;
    }
    const ready =
      newRS &&
      newAvailable >= (b.previewReplicaCount ?? replicas) &&
      newRS.replicas >= (b.previewReplicaCount ?? replicas);
    if (!ready) return;
    if (b.prePromotionAnalysis && !st.promoteFull) {
      const templated = !!b.prePromotionAnalysis.templates?.length;
      const result = templated ? runFor('-pre', 'PrePromotion', b.prePromotionAnalysis) : input.analysis;
      (st.blueGreen ??= {}).prePromotionAnalysisRunStatus = result ?? {
        name: `${ro.metadata?.name}-${hash}-pre`,
        status: 'Pending',
      };
      if (failed(result)) {
        abortNow(
          templated ? analysisFailure(result!) : `pre-promotion analysis failed: ${result!.message ?? ''}`.trim(),
        );
        return;
      }
      if (result?.status === 'Inconclusive') {
        if (pauseFor('InconclusiveAnalysisRun', undefined) === 'paused') return;
      } else if (result?.status !== 'Successful') {
        if (!templated) plan.runAnalysis = true;
        wake(2000);
        return;
      }
    }
    const auto = b.autoPromotionEnabled !== false;
    if ((!auto || (b.autoPromotionSeconds ?? 0) > 0) && !st.promoteFull) {
      if (pauseFor('BlueGreenPause', auto ? b.autoPromotionSeconds : undefined) === 'paused') return;
    }
    if (b.previewReplicaCount !== undefined && (newRS.replicas < replicas || newAvailable < replicas)) {
      plan.scale.set(hash, { replicas });
      return;
    }
    // The active Service switches now.
    plan.services.set(b.activeService, hash);
    plan.events.push({
      type: 'Normal',
      reason: 'SwitchService',
      message: `Switched selector for service '${b.activeService}' from '${s}' to '${hash}'`,
    });
    promote();
  }

  /** After the switch: the post-promotion analysis, then the new version is stable and the old one goes after the delay. */
  function promote(): void {
    const b = bg!;
    const s = stable!;
    const post = b.postPromotionAnalysis;
    if (post?.templates?.length && !st.promoteFull) {
      // The run starts once the Service selects the new version (the next pass sees it).
      if (input.activeSelector !== hash) {
        wake(1000);
        return;
      }
      const result = runFor('-post', 'PostPromotion', post);
      (st.blueGreen ??= {}).postPromotionAnalysisRunStatus = result;
      if (failed(result)) {
        abortNow(analysisFailure(result));
        return;
      }
      if (result.status === 'Inconclusive') {
        if (pauseFor('InconclusiveAnalysisRun', undefined) === 'paused') return;
      } else if (result.status !== 'Successful') return;
    }
    st.stableRS = hash;
    st.promoteFull = undefined;
    st.pauseConditions = undefined;
    st.controllerPause = undefined;
    scaleDown([byHash.get(s)!], b.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS);
    plan.events.push({
      type: 'Normal',
      reason: 'RolloutCompleted',
      message: `Rollout completed update to revision ${revision} (${hash})`,
    });
  }

  function planCanary(): void {
    const c = canary!;
    const s = stable!;
    const routed = !!c.trafficRouting;
    let idx = st.promoteFull ? steps.length : Math.min(st.currentStepIndex ?? 0, steps.length);
    const stableRS = byHash.get(s)!;
    // Background analysis: from its starting step until the update completes; a failure aborts.
    const background = c.analysis;
    if (background?.templates?.length && idx >= (background.startingStep ?? 0) && !ro.spec.paused) {
      const r = runFor('', 'Background', background);
      (st.canary ??= {}).currentBackgroundAnalysisRunStatus = r;
      if (failed(r)) {
        abortNow(analysisFailure(r));
        return;
      }
    }
    // Steps that are done hand over to the next one in the same pass.
    for (let guard = 0; guard <= steps.length; guard++) {
      const weight = weightAtStep(steps, idx);
      const want = canaryReplicas(replicas, weight);
      plan.scale.set(hash, { replicas: want });
      const canaryUp = !!newRS && newRS.replicas >= want && newAvailable >= want;
      // Basic canary: the stable side gives up only what the canary already serves.
      plan.scale.set(s, { replicas: routed ? replicas : replicas - Math.min(want, newAvailable) });
      if (canaryUp) plan.canaryWeight = weight;
      if (ro.spec.paused) break;
      const step = steps[idx];
      if (idx >= steps.length) {
        if (canaryUp) {
          st.stableRS = hash;
          st.promoteFull = undefined;
          plan.scale.set(hash, { replicas });
          pointAll(hash);
          plan.canaryWeight = routed ? 0 : undefined;
          scaleDown([stableRS], routed ? (c.scaleDownDelaySeconds ?? DEFAULT_SCALE_DOWN_DELAY_SECONDS) : 0);
          plan.events.push({
            type: 'Normal',
            reason: 'RolloutCompleted',
            message: `Rollout completed update to revision ${revision} (${hash})`,
          });
        }
        break;
      }
      if (step.analysis) {
        const r = runFor(`-${idx}`, 'Step', step.analysis);
        (st.canary ??= {}).currentStepAnalysisRunStatus = r;
        if (failed(r)) {
          abortNow(analysisFailure(r));
          return;
        }
        if (r.status === 'Inconclusive') {
          if (pauseFor('InconclusiveAnalysisRun', undefined) === 'paused') break;
        } else if (r.status !== 'Successful') break;
      } else if (step.pause) {
        if (pauseFor('CanaryPauseStep', pauseSeconds(step.pause.duration)) === 'paused') break;
      } else if (!canaryUp) break;
      idx++;
      const what =
        step.setWeight !== undefined
          ? `setWeight: ${step.setWeight}`
          : step.analysis
            ? 'analysis'
            : `pause${step.pause?.duration !== undefined ? `: ${step.pause.duration}` : ''}`;
      plan.events.push({
        type: 'Normal',
        reason: 'RolloutStepCompleted',
        message: `Rollout step ${idx}/${steps.length} completed (${what})`,
      });
    }
    st.currentStepIndex = Math.min(idx, steps.length);
    if (st.stableRS !== hash) {
      if (c.canaryService) plan.services.set(c.canaryService, hash);
      if (c.stableService) plan.services.set(c.stableService, s);
    }
    scaleDown(others, 0);
  }

  // The deadline: no progress of the new pods for progressDeadlineSeconds aborts the update.
  const counts = statusCounts(ro, input.replicaSets, hash, plan, st);
  Object.assign(st, counts);
  progressed ||=
    before.updated !== counts.updatedReplicas ||
    before.ready !== counts.readyReplicas ||
    before.available !== counts.availableReplicas ||
    before.step !== st.currentStepIndex;
  const prevProgressing = conditionOf(st, 'Progressing');
  if (prevProgressing?.reason === 'RolloutAborted' && !st.abort) progressed = true; // a retry restarts the clock
  const deadlineSeconds = ro.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS;
  const updating = !initial && st.stableRS !== hash && !st.abort;
  if (updating && !progressed && !ro.spec.paused && !st.pauseConditions?.length && waitingForPods()) {
    const since = prevProgressing ? Date.parse(prevProgressing.lastUpdateTime) : now;
    const left = since + deadlineSeconds * 1000 - now;
    if (left <= 0) abortNow(`ProgressDeadlineExceeded: ReplicaSet "${newRS?.name ?? hash}" has timed out progressing.`);
    else wake(left);
  }

  // Conditions, phase, weights.
  if (st.abort) {
    // Why it was aborted stays in the condition (a manual abort says only that it was).
    const prev = conditionOf(st, 'Progressing');
    const message =
      abortMessage ??
      (prev?.reason === 'RolloutAborted' ? prev.message : `Rollout aborted update to revision ${revision}`);
    setCondition(st, 'Progressing', false, 'RolloutAborted', message, nowIso);
  } else if (ro.spec.paused || st.pauseConditions?.length) {
    setCondition(st, 'Progressing', true, 'RolloutPaused', 'Rollout is paused', nowIso);
  } else if (st.stableRS === hash && newAvailable >= replicas) {
    setCondition(st, 'Progressing', true, 'NewReplicaSetAvailable', 'Rollout has completed rollout', nowIso);
  } else {
    setCondition(
      st,
      'Progressing',
      true,
      'ReplicaSetUpdated',
      `ReplicaSet "${newRS?.name ?? hash}" is progressing.`,
      nowIso,
      progressed,
    );
  }
  const available = (st.availableReplicas ?? 0) >= replicas;
  setCondition(
    st,
    'Available',
    available,
    'AvailableReason',
    available ? 'Rollout has minimum availability' : 'Rollout does not have minimum availability',
    nowIso,
  );
  const paused = !!(ro.spec.paused || st.pauseConditions?.length);
  setCondition(
    st,
    'Paused',
    paused,
    paused ? 'RolloutPaused' : 'RolloutResumed',
    paused ? 'Rollout is paused' : 'Rollout is resumed',
    nowIso,
  );
  if (bg) {
    const active = plan.services.get(bg.activeService) ?? input.activeSelector;
    st.blueGreen = {
      ...st.blueGreen,
      activeSelector: active,
      previewSelector: bg.previewService ? plan.services.get(bg.previewService) : undefined,
    };
  }
  if (canary?.trafficRouting) {
    const w = plan.canaryWeight ?? st.canary?.weights?.canary.weight ?? 0;
    st.canary = {
      ...st.canary,
      weights: {
        canary: { weight: w, serviceName: canary.canaryService, podTemplateHash: hash },
        stable: { weight: 100 - w, serviceName: canary.stableService, podTemplateHash: st.stableRS ?? hash },
      },
    };
  }
  st.observedGeneration = String(ro.metadata?.generation ?? 0);
  const { phase, message } = rolloutPhase(ro, st);
  const healthy = phase === 'Healthy';
  setCondition(
    st,
    'Healthy',
    healthy,
    'RolloutHealthy',
    healthy ? 'Rollout is healthy' : 'Rollout is not healthy',
    nowIso,
  );
  st.phase = phase;
  st.message = message || undefined;
  if (phase === 'Progressing' && updating && !st.abort) wake(5000);
  return plan;
}

/** Replica counts over the ReplicaSets as they are (the next pass sees the effect of scaling). */
function statusCounts(ro: Rollout, rss: ReplicaSetView[], hash: string, plan: RolloutPlan, st: RolloutStatus) {
  const sum = (f: (rs: ReplicaSetView) => number, of = rss) => of.reduce((n, rs) => n + f(rs), 0);
  const newRS = rss.find((rs) => rs.hash === hash);
  const active = ro.spec.strategy.blueGreen
    ? rss.find((rs) => rs.hash === (plan.services.get(ro.spec.strategy.blueGreen!.activeService) ?? st.stableRS))
    : undefined;
  return {
    replicas: sum((rs) => rs.current),
    updatedReplicas: newRS?.current ?? 0,
    readyReplicas: sum((rs) => rs.ready),
    availableReplicas: active ? active.available : sum((rs) => rs.available),
    HPAReplicas: active ? active.current : sum((rs) => rs.current),
    selector: formatLabelSelector(ro.spec.selector),
  };
}
