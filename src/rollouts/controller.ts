// The Rollout controller (Argo Rollouts' argoproj.io/v1alpha1 Rollout, run inside `k8ts server`
// by the controller manager): installs the CRD, then for each Rollout reads what planRollout
// (plan.ts) needs — its ReplicaSets, the active Service's selector, the new pods' restarts and
// addresses, the pre-promotion check's result — and carries the plan out: status first (so a
// decision such as "the new ReplicaSet is stable" is recorded before the Services follow it),
// then the ReplicaSets, the Services' selectors, the traffic routers and the events.
import type { Deployment, ReplicaSet } from 'kubernetes-types/apps/v1.js';
import type { Pod, PodTemplateSpec, Service } from 'kubernetes-types/core/v1.js';
import type { LabelSelector } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../client/controller.js';
import { isAlreadyExists, isNotFound } from '../client/errors.js';
import { EventRecorder } from '../client/events.js';
import { keyOf, splitKey, SharedIndexInformer } from '../client/informer.js';
import { ensureOwnCrd, waitUntilServed } from '../client/owncrds.js';
import type { Stored } from '../client/types.js';
import { computeHash } from '../controllers/deployment/util.js';
import { CONTROLLER_INDEX, controllerRefOf, ensureControllerIndex } from '../controllers/replicaset/podutil.js';
import type { Controller, ControllerContext } from '../controllers/types.js';
import { selectorFromLabelSelector } from '../machinery/labels.js';
import { AnalysisRunner } from './analysis.js';
import {
  ANALYSIS_RUNS,
  ANALYSIS_TEMPLATES,
  AnalysisRunController,
  CLUSTER_ANALYSIS_TEMPLATES,
  isCompleted,
  type AnalysisRun,
  type Argument,
  type Metric,
} from './analysisrun.js';
import { ANALYSIS_CRDS, ROLLOUT_CRD } from './crd.js';
import { newReplicaSet, planRollout, type PlannedRun, type ReplicaSetView, type RolloutPlan } from './plan.js';
import { applyCanaryWeight } from './routers.js';
import {
  POD_HASH_LABEL,
  REVISION_ANNOTATION,
  ROLLOUT_API_VERSION,
  ROLLOUT_KIND,
  ROLLOUTS,
  SCALE_DOWN_DEADLINE_ANNOTATION,
  type AnalysisRunStatus,
  type Rollout,
} from './types.js';

/** Why a Rollout cannot be acted on, or undefined. */
export function invalidSpec(
  ro: Rollout,
  template: PodTemplateSpec | undefined,
  selector: LabelSelector | undefined,
): string | undefined {
  const s = ro.spec.strategy ?? {};
  if (!s.blueGreen && !s.canary) return "Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'";
  if (s.blueGreen && s.canary) return 'Rollout must have either a canary or a blueGreen strategy, not both';
  if (s.blueGreen && !s.blueGreen.activeService)
    return "Rollout has missing field '.spec.strategy.blueGreen.activeService'";
  if (!template) return "Rollout has missing field '.spec.template'";
  if (!selector || (!Object.keys(selector.matchLabels ?? {}).length && !selector.matchExpressions?.length))
    return 'This rollout is selecting all pods. A non-empty selector is required.';
  if (!selectorFromLabelSelector(selector).matches(template.metadata?.labels ?? {}))
    return '`selector` does not match template `labels`';
  if (s.canary?.trafficRouting && (!s.canary.canaryService || !s.canary.stableService))
    return 'canary traffic routing needs canaryService and stableService';
  return undefined;
}

export class RolloutController implements Controller {
  readonly name = 'rollouts';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly events: EventRecorder;
  private readonly rollouts: SharedIndexInformer<Rollout>;
  private readonly replicasets: SharedIndexInformer<ReplicaSet>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly services: SharedIndexInformer<Service>;
  private readonly runner: ControllerRunner;
  private readonly analysis: AnalysisRunner;
  private readonly runs: AnalysisRunController;
  private stopped = false;
  /** The size last asked of a ReplicaSet at a resourceVersion: a stale informer copy is not scaled (or reported) twice. */
  private readonly scaled = new Map<string, { resourceVersion: string; replicas: number }>();

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'rollouts' });
    this.events = new EventRecorder(ctx.client, { component: 'rollouts-controller' }, this.log);
    // Own informer: the kind is served only once the CRD is installed (start()).
    this.rollouts = new SharedIndexInformer(ctx.client, ROLLOUTS, { logger: this.log, backoffMaxMs: 2000 });
    this.replicasets = ctx.informers.forResource(R.replicasets);
    this.pods = ctx.informers.forResource(R.pods);
    this.services = ctx.informers.forResource(R.services);
    ensureControllerIndex(this.replicasets);
    ensureControllerIndex(this.pods);
    this.analysis = new AnalysisRunner(ctx.client);
    this.runs = new AnalysisRunController(ctx.client, this.log.child({ controller: 'analysisruns' }));
    const onRun = (run: AnalysisRun) => this.enqueueOwner(run.metadata.namespace, controllerRefOf(run));
    this.runs.informer.addEventHandler({ add: onRun, update: (_o, n) => onRun(n) });
    this.runner = new ControllerRunner({
      name: 'rollouts',
      workers: 2,
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });

    const onRollout = (ro: Stored<Rollout>) => this.runner.enqueue(keyOf(ro));
    this.rollouts.addEventHandler({
      add: onRollout,
      update: (_o, n) => onRollout(n),
      delete: (ro) => this.analysis.forget(ro.metadata.uid),
    });
    const onReplicaSet = (rs: ReplicaSet) => this.enqueueOwner(rs.metadata?.namespace, controllerRefOf(rs));
    this.replicasets.addEventHandler({
      add: onReplicaSet,
      update: (_o, n) => onReplicaSet(n),
      delete: (rs) => {
        this.scaled.delete(rs.metadata.uid);
        onReplicaSet(rs);
      },
    });
    // Restarts and readiness of pods show in their ReplicaSet only partly (restarts not at all).
    const onPod = (pod: Pod) => {
      if (!pod.metadata?.labels?.[POD_HASH_LABEL]) return;
      const ref = controllerRefOf(pod);
      const rs = ref && this.replicasets.store.getByName(pod.metadata.namespace, ref.name);
      if (rs) onReplicaSet(rs);
    };
    this.pods.addEventHandler({ update: (_o, n) => onPod(n) });
    const onService = (svc: Stored<Service>) => {
      for (const ro of this.rollouts.store.listByNamespace(svc.metadata.namespace ?? ''))
        if (servicesOf(ro).includes(svc.metadata.name)) onRollout(ro);
    };
    this.services.addEventHandler({ add: onService, update: (_o, n) => onService(n), delete: onService });
  }

  private enqueueOwner(
    namespace: string | undefined,
    ref: { kind?: string; apiVersion?: string; name: string } | undefined,
  ) {
    if (ref?.kind === ROLLOUT_KIND && ref.apiVersion === ROLLOUT_API_VERSION)
      this.runner.enqueue(`${namespace}/${ref.name}`);
  }

  start(): void {
    void this.install();
  }

  private async install(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await ensureOwnCrd(this.client, ROLLOUT_CRD);
        for (const crd of ANALYSIS_CRDS) await ensureOwnCrd(this.client, crd);
        break;
      } catch (err) {
        if (attempt % 10 === 0) this.log.warn({ err }, 'cannot install the Rollout CRD yet');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    // Started once the kind is served, so its first list does not fail and back off.
    await waitUntilServed(this.client, [ROLLOUTS, ANALYSIS_RUNS, ANALYSIS_TEMPLATES, CLUSTER_ANALYSIS_TEMPLATES], {
      timeoutMs: 60_000,
      stopped: () => this.stopped,
    });
    if (this.stopped) return;
    this.rollouts.start();
    await Promise.all([this.rollouts.waitForSync(), this.runs.start()]);
    if (!this.stopped) this.runner.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([this.rollouts.stop(), this.runner.stop(), this.runs.stop()]);
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    const { namespace = '', name } = splitKey(key);
    const ro = this.rollouts.store.getByName(namespace, name);
    if (!ro || ro.metadata.deletionTimestamp) return;
    const { template, selector } = await this.resolveWorkload(ro);
    const resolved: Rollout = { ...ro, spec: { ...ro.spec, selector } };
    const invalid = invalidSpec(ro, template, selector);
    if (invalid) return this.reportInvalid(ro, invalid);

    const hash = computeHash(template);
    const owned = this.replicasets.store
      .byIndex(CONTROLLER_INDEX, `uid:${ro.metadata.uid}`)
      .filter((rs) => rs.metadata.namespace === namespace && rs.metadata.labels?.[POD_HASH_LABEL]);
    const views: ReplicaSetView[] = owned.map((rs) => ({
      name: rs.metadata.name,
      hash: rs.metadata.labels![POD_HASH_LABEL],
      replicas: rs.spec?.replicas ?? 1,
      current: rs.status?.replicas ?? 0,
      ready: rs.status?.readyReplicas ?? 0,
      available: rs.status?.availableReplicas ?? 0,
      revision: Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0,
      scaleDownDeadline: rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION] || undefined,
    }));
    const newRS = owned.find((rs) => rs.metadata.labels?.[POD_HASH_LABEL] === hash);
    const newPods = newRS ? this.pods.store.byIndex(CONTROLLER_INDEX, `uid:${newRS.metadata.uid}`) : [];
    const restarts = Math.max(
      0,
      ...newPods.flatMap((p) => (p.status?.containerStatuses ?? []).map((c) => c.restartCount ?? 0)),
    );
    const bg = ro.spec.strategy.blueGreen;
    const active = bg && this.services.store.getByName(namespace, bg.activeService);
    // A retry after an abort runs the pre-promotion check again.
    const retried =
      !ro.status?.abort &&
      ro.status?.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'RolloutAborted');
    if (retried) this.analysis.forget(ro.metadata.uid);

    const ownedRuns = this.runs.informer.store
      .listByNamespace(namespace)
      .filter((r) => controllerRefOf(r)?.uid === ro.metadata.uid);
    const runs = new Map<string, AnalysisRunStatus>(
      ownedRuns.map((r) => [
        r.metadata.name,
        { name: r.metadata.name, status: r.status?.phase ?? 'Pending', message: r.status?.message },
      ]),
    );
    // A retry after an abort runs the analysis again: the old runs go.
    if (retried)
      for (const r of ownedRuns) if (r.metadata.labels?.[POD_HASH_LABEL] === hash) runs.delete(r.metadata.name);
    const plan = planRollout({
      rollout: resolved,
      hash,
      replicaSets: views,
      activeSelector: active?.spec?.selector?.[POD_HASH_LABEL],
      newPodRestarts: restarts,
      analysis: retried ? undefined : this.analysis.result(ro, hash),
      runs,
      now: Date.now(),
    });
    await this.writeStatus(ro, plan);
    if (!newRS && plan.createReplicaSet) await this.createReplicaSet(ro, template!, hash, views);
    await this.syncRuns(ro, hash, plan, ownedRuns, retried);
    await this.scale(ro, owned, plan);
    await this.pointServices(ro, plan);
    if (plan.canaryWeight !== undefined && ro.spec.strategy.canary?.trafficRouting)
      await applyCanaryWeight(this.client, ro, plan.canaryWeight).catch((err: Error) =>
        this.events.event(withKind(ro), 'Warning', 'TrafficRoutingError', err.message),
      );
    if (plan.runAnalysis) {
      const ips = newPods
        .filter((p) => isReady(p))
        .map((p) => p.status?.podIP ?? '')
        .filter(Boolean);
      this.analysis.run(ro, hash, ips, () => this.runner.enqueue(key));
    }
    for (const e of plan.events) this.events.event(withKind(ro), e.type, e.reason, e.message);
    if (plan.requeueAfterMs !== undefined) return { requeueAfterMs: plan.requeueAfterMs };
  }

  /** Creates the AnalysisRuns the plan wants; terminates unfinished ones it no longer does. */
  private async syncRuns(
    ro: Stored<Rollout>,
    hash: string,
    plan: RolloutPlan,
    owned: Stored<AnalysisRun>[],
    retried: boolean | undefined,
  ): Promise<void> {
    const runs = this.client.resource(ANALYSIS_RUNS).namespace(ro.metadata.namespace);
    for (const r of owned) {
      const stale = retried && r.metadata.labels?.[POD_HASH_LABEL] === hash;
      if (stale)
        await runs.delete(r.metadata.name).catch((err: unknown) => void (isNotFound(err) || this.log.warn({ err })));
      else if (!plan.keepRuns.has(r.metadata.name) && !isCompleted(r.status?.phase) && !r.spec.terminate)
        await runs.patch(r.metadata.name, 'merge', { spec: { terminate: true } });
    }
    for (const want of plan.createRuns) {
      let run: AnalysisRun;
      try {
        run = await this.runFromTemplates(ro, hash, want);
      } catch (err) {
        this.events.event(withKind(ro), 'Warning', 'AnalysisRunError', (err as Error).message);
        continue;
      }
      try {
        await runs.create(run);
        this.events.event(
          withKind(ro),
          'Normal',
          'AnalysisRunRunning',
          `${want.type} Analysis Run '${want.name}' Status New: 'Running' Previous: ''`,
        );
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }
  }

  /** An AnalysisRun from the templates a Rollout names, with the args resolved (Argo's NewAnalysisRunFromTemplates). */
  private async runFromTemplates(ro: Stored<Rollout>, hash: string, want: PlannedRun): Promise<AnalysisRun> {
    const metrics: Metric[] = [];
    const args = new Map<string, Argument>();
    for (const ref of want.analysis.templates ?? []) {
      const res = ref.clusterScope
        ? this.client.resource(CLUSTER_ANALYSIS_TEMPLATES)
        : this.client.resource(ANALYSIS_TEMPLATES).namespace(ro.metadata.namespace);
      let tpl;
      try {
        tpl = await res.get(ref.templateName);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        throw new Error(
          `${ref.clusterScope ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate'} "${ref.templateName}" not found`,
          { cause: err },
        );
      }
      for (const m of tpl.spec?.metrics ?? []) {
        if (metrics.some((x) => x.name === m.name)) throw new Error(`two metrics named "${m.name}" in the templates`);
        metrics.push(m);
      }
      for (const a of tpl.spec?.args ?? []) if (!args.has(a.name) || a.value !== undefined) args.set(a.name, { ...a });
    }
    for (const a of want.analysis.args ?? []) {
      let value = a.value;
      const from = a.valueFrom;
      if (from?.podTemplateHashValue)
        value = from.podTemplateHashValue === 'Latest' ? hash : (ro.status?.stableRS ?? hash);
      else if (from?.fieldRef) value = fieldOf(ro, from.fieldRef.fieldPath);
      if (!args.has(a.name)) throw new Error(`argument "${a.name}" is not declared by the templates`);
      args.set(a.name, { name: a.name, value });
    }
    const revision = ro.metadata.annotations?.[REVISION_ANNOTATION];
    return {
      apiVersion: ROLLOUT_API_VERSION,
      kind: 'AnalysisRun',
      metadata: {
        name: want.name,
        namespace: ro.metadata.namespace,
        labels: { [POD_HASH_LABEL]: hash, 'rollout-type': want.type },
        annotations: revision ? { [REVISION_ANNOTATION]: revision } : undefined,
        ownerReferences: [
          {
            apiVersion: ROLLOUT_API_VERSION,
            kind: ROLLOUT_KIND,
            name: ro.metadata.name,
            uid: ro.metadata.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { metrics, args: [...args.values()].map((a) => ({ name: a.name, value: a.value })) },
    };
  }

  /** spec.template and selector, or those of the Deployment spec.workloadRef names. */
  private async resolveWorkload(ro: Rollout): Promise<{ template?: PodTemplateSpec; selector?: LabelSelector }> {
    const ref = ro.spec.workloadRef;
    if (!ref?.name || ro.spec.template?.spec) return { template: ro.spec.template, selector: ro.spec.selector };
    try {
      const d: Deployment = await this.client.resource(R.deployments).namespace(ro.metadata?.namespace).get(ref.name);
      return { template: d.spec?.template, selector: ro.spec.selector ?? d.spec?.selector };
    } catch (err) {
      if (!isNotFound(err)) throw err;
      return {};
    }
  }

  private async reportInvalid(ro: Stored<Rollout>, message: string): Promise<void> {
    if (ro.status?.phase === 'Degraded' && ro.status.message === `InvalidSpec: ${message}`) return;
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    const status = {
      ...ro.status,
      phase: 'Degraded' as const,
      message: `InvalidSpec: ${message}`,
      observedGeneration: String(ro.metadata.generation ?? 0),
      conditions: [
        ...(ro.status?.conditions ?? []).filter((c) => c.type !== 'InvalidSpec'),
        {
          type: 'InvalidSpec',
          status: 'True' as const,
          reason: 'InvalidSpec',
          message,
          lastUpdateTime: now,
          lastTransitionTime: now,
        },
      ],
    };
    await this.client
      .resource(ROLLOUTS)
      .namespace(ro.metadata.namespace)
      .updateStatus({ ...ro, status });
    this.events.event(withKind(ro), 'Warning', 'InvalidSpec', message);
  }

  private async writeStatus(ro: Stored<Rollout>, plan: RolloutPlan): Promise<void> {
    const status = JSON.parse(JSON.stringify(plan.status)) as Rollout['status'];
    if (status?.conditions) status.conditions = status.conditions.filter((c) => c.type !== 'InvalidSpec');
    if (JSON.stringify(status) === JSON.stringify(ro.status)) return;
    await this.client
      .resource(ROLLOUTS)
      .namespace(ro.metadata.namespace)
      .updateStatus({ ...ro, status });
  }

  private async createReplicaSet(
    ro: Stored<Rollout>,
    template: PodTemplateSpec,
    hash: string,
    views: ReplicaSetView[],
  ) {
    const revision = Math.max(0, ...views.map((v) => v.revision)) + 1;
    const rs = newReplicaSet(
      { ...ro, spec: { ...ro.spec, selector: ro.spec.selector ?? undefined } },
      template,
      hash,
      revision,
    );
    try {
      await this.client.resource(R.replicasets).namespace(ro.metadata.namespace).create(rs);
      this.events.event(
        withKind(ro),
        'Normal',
        'NewReplicaSetCreated',
        `Created ReplicaSet ${rs.metadata?.name} (revision ${revision})`,
      );
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  private async scale(ro: Stored<Rollout>, owned: Stored<ReplicaSet>[], plan: RolloutPlan): Promise<void> {
    const rsClient = this.client.resource(R.replicasets).namespace(ro.metadata.namespace);
    for (const rs of owned) {
      const want = plan.scale.get(rs.metadata.labels?.[POD_HASH_LABEL] ?? '');
      if (!want) continue;
      const have = rs.spec?.replicas ?? 1;
      const deadlineNow = rs.metadata.annotations?.[SCALE_DOWN_DEADLINE_ANNOTATION];
      const deadlineChange = want.deadline !== undefined && (want.deadline ?? undefined) !== (deadlineNow || undefined);
      if (have === want.replicas && !deadlineChange) continue;
      const asked = this.scaled.get(rs.metadata.uid);
      if (asked?.resourceVersion === rs.metadata.resourceVersion && asked.replicas === want.replicas) continue;
      const patch: Record<string, unknown> = { spec: { replicas: want.replicas } };
      if (deadlineChange) patch.metadata = { annotations: { [SCALE_DOWN_DEADLINE_ANNOTATION]: want.deadline } };
      await rsClient.patch(rs.metadata.name, 'merge', patch);
      this.scaled.set(rs.metadata.uid, { resourceVersion: rs.metadata.resourceVersion, replicas: want.replicas });
      if (have !== want.replicas) {
        const dir = want.replicas > have ? 'up' : 'down';
        const rev = rs.metadata.annotations?.[REVISION_ANNOTATION] ?? '?';
        this.events.event(
          withKind(ro),
          'Normal',
          'ScalingReplicaSet',
          `Scaled ${dir} ReplicaSet ${rs.metadata.name} (revision ${rev}) from ${have} to ${want.replicas}`,
        );
      }
    }
  }

  private async pointServices(ro: Stored<Rollout>, plan: RolloutPlan): Promise<void> {
    const ns = ro.metadata.namespace ?? '';
    const svcClient = this.client.resource(R.services).namespace(ns);
    for (const [name, hash] of plan.services) {
      const svc = this.services.store.getByName(ns, name);
      if (!svc) {
        this.events.event(withKind(ro), 'Warning', 'ServiceReferenceError', `Service "${name}" not found`);
        continue;
      }
      if (svc.spec?.selector?.[POD_HASH_LABEL] === hash) continue;
      await svcClient.patch(name, 'merge', {
        metadata: { annotations: { 'argo-rollouts.argoproj.io/managed-by-rollouts': ro.metadata.name } },
        spec: { selector: { [POD_HASH_LABEL]: hash } },
      });
    }
  }
}

/** The controller manager's entry (src/server/assemble.ts adds it to the manager's controllers). */
export const rolloutController = (ctx: ControllerContext): Controller => new RolloutController(ctx);

function servicesOf(ro: Rollout): string[] {
  const { blueGreen: b, canary: c } = ro.spec.strategy ?? {};
  return [b?.activeService, b?.previewService, c?.canaryService, c?.stableService].filter((s): s is string => !!s);
}

/** A fieldRef of an analysis argument: metadata.name/namespace/uid, metadata.labels['k'], metadata.annotations['k']. */
function fieldOf(ro: Stored<Rollout>, path: string): string | undefined {
  const m = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (m) return ro.metadata[m[1] as 'labels' | 'annotations']?.[m[2]];
  if (path === 'metadata.name') return ro.metadata.name;
  if (path === 'metadata.namespace') return ro.metadata.namespace;
  if (path === 'metadata.uid') return ro.metadata.uid;
  throw new Error(`fieldRef ${path} is not supported (metadata.name, namespace, uid, labels['k'], annotations['k'])`);
}

function isReady(p: Pod): boolean {
  return !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
}

function withKind(ro: Stored<Rollout>) {
  return { ...ro, apiVersion: ROLLOUT_API_VERSION, kind: ROLLOUT_KIND };
}
