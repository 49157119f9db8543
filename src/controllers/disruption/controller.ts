// The disruption controller (upstream pkg/controller/disruption): keeps each PodDisruptionBudget's
// status — expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed, disruptedPods and the
// DisruptionAllowed condition — from the pods it selects. A percentage (or maxUnavailable) is
// taken of the scale of the pods' controllers (Deployment through its ReplicaSet, ReplicaSet,
// ReplicationController, StatefulSet, or any resource with a scale subresource), as upstream.
// pods/eviction reads and decrements disruptionsAllowed; entries it adds to disruptedPods are
// dropped here once the pod is gone or after DeletionTimeout.
import type { Scale } from 'kubernetes-types/autoscaling/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { Condition, ObjectMeta, OwnerReference } from 'kubernetes-types/meta/v1.js';
import type {
  PodDisruptionBudget,
  PodDisruptionBudgetSpec,
  PodDisruptionBudgetStatus,
} from 'kubernetes-types/policy/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { keyOf, type SharedIndexInformer } from '../../client/informer.js';
import type { DiscoveredResource, ResourceSpec, Stored } from '../../client/types.js';
import { selectorFromLabelSelectorRaw } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../types.js';
import { rfc3339 } from '../../machinery/time.js';

const PDBS = R.poddisruptionbudgets;
const RCS = R.replicationcontrollers;

/** A pod as the budget counts it: disruptedPods is keyed by its name. */
type NamedPod = Pod & { metadata: { name: string } };

/** What the scale of a pod's controller is read from (ReplicaSet, Deployment, StatefulSet, RC). */
/** The parts of a budget its status is computed from (status as last written, maybe partial). */
export interface BudgetState {
  metadata?: ObjectMeta;
  status?: Partial<PodDisruptionBudgetStatus>;
}

interface ScaledWorkload {
  metadata?: ObjectMeta;
  spec?: { replicas?: number };
}

/** How long an evicted pod may take to disappear before it counts again (upstream DeletionTimeout). */
export const DELETION_TIMEOUT_MS = 2 * 60_000;

/** intstr.GetScaledValueFromIntOrPercent(v, total, roundUp). */
export function scaledValue(v: number | string, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  const m = /^(-?\d+)%$/.exec(v);
  if (!m) {
    const n = Number(v);
    if (Number.isInteger(n)) return n;
    throw new Error(`invalid value for IntOrString: invalid value "${v}"`);
  }
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

export const isPodReady = (pod: Pod | undefined): boolean =>
  (pod?.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** desiredHealthy and whether the expected count needs the controllers' scale (upstream getExpectedPodCount). */
export function desiredHealthyFor(
  spec: Partial<PodDisruptionBudgetSpec> | undefined,
  podCount: number,
  expectedScale: () => number,
): { expectedCount: number; desiredHealthy: number } {
  if (spec?.maxUnavailable !== undefined && spec.maxUnavailable !== null) {
    const expectedCount = expectedScale();
    const maxUnavailable = scaledValue(spec.maxUnavailable, expectedCount, true);
    return { expectedCount, desiredHealthy: Math.max(0, expectedCount - maxUnavailable) };
  }
  if (spec?.minAvailable !== undefined && spec.minAvailable !== null) {
    if (typeof spec.minAvailable === 'number') return { expectedCount: podCount, desiredHealthy: spec.minAvailable };
    const expectedCount = expectedScale();
    return { expectedCount, desiredHealthy: scaledValue(spec.minAvailable, expectedCount, true) };
  }
  return { expectedCount: 0, desiredHealthy: 0 };
}

/** disruptedPods entries still pending, and when the earliest expires (upstream buildDisruptedPodMap). */
export function buildDisruptedPodMap(
  pods: NamedPod[],
  pdb: BudgetState,
  now: number,
): { disrupted: Record<string, string>; recheckAt?: number; notDeleted: string[] } {
  const prior: Record<string, string> = pdb.status?.disruptedPods ?? {};
  const disrupted: Record<string, string> = {};
  const notDeleted: string[] = [];
  let recheckAt: number | undefined;
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    const t = prior[pod.metadata.name];
    if (!t) continue;
    const expected = Date.parse(t) + DELETION_TIMEOUT_MS;
    if (expected < now) notDeleted.push(pod.metadata.name);
    else {
      if (recheckAt === undefined || expected < recheckAt) recheckAt = expected;
      disrupted[pod.metadata.name] = t;
    }
  }
  return { disrupted, recheckAt, notDeleted };
}

export function countHealthyPods(pods: NamedPod[], disrupted: Record<string, string>, now: number): number {
  let n = 0;
  for (const pod of pods) {
    if (pod.metadata.deletionTimestamp) continue;
    const t = disrupted[pod.metadata.name];
    if (t && Date.parse(t) + DELETION_TIMEOUT_MS > now) continue;
    if (isPodReady(pod)) n++;
  }
  return n;
}

/** meta.SetStatusCondition for metav1.Conditions. */
export function setCondition(
  conditions: Condition[],
  c: { type: string; status: string; reason: string; message: string; observedGeneration?: number },
  now = rfc3339(),
): Condition[] {
  const out = conditions.filter((x) => x.type !== c.type);
  const prev = conditions.find((x) => x.type === c.type);
  const lastTransitionTime = prev && prev.status === c.status ? prev.lastTransitionTime : now;
  const next: Condition = {
    type: c.type,
    status: c.status,
    ...(c.observedGeneration !== undefined ? { observedGeneration: c.observedGeneration } : {}),
    lastTransitionTime,
    reason: c.reason,
    message: c.message,
  };
  const i = conditions.findIndex((x) => x.type === c.type);
  if (i >= 0) out.splice(i, 0, next);
  else out.push(next);
  return out;
}

/** The status upstream's updatePdbStatus writes. */
export function computeStatus(
  pdb: BudgetState,
  currentHealthy: number,
  desiredHealthy: number,
  expectedCount: number,
  disrupted: Record<string, string>,
): PodDisruptionBudgetStatus & { conditions: Condition[] } {
  let disruptionsAllowed = currentHealthy - desiredHealthy;
  if (expectedCount <= 0 || disruptionsAllowed <= 0) disruptionsAllowed = 0;
  const observedGeneration = pdb.metadata?.generation ?? 0;
  return {
    ...(Object.keys(disrupted).length ? { disruptedPods: disrupted } : {}),
    disruptionsAllowed,
    currentHealthy,
    desiredHealthy,
    expectedPods: expectedCount,
    observedGeneration,
    conditions: setCondition(pdb.status?.conditions ?? [], {
      type: 'DisruptionAllowed',
      status: disruptionsAllowed > 0 ? 'True' : 'False',
      reason: disruptionsAllowed > 0 ? 'SufficientPods' : 'InsufficientPods',
      message: '',
      observedGeneration,
    }),
  };
}

export class DisruptionController implements Controller {
  readonly name = 'disruption';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly pdbs: SharedIndexInformer<PodDisruptionBudget>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly workloads = new Map<string, SharedIndexInformer<ScaledWorkload>>();
  private readonly runner: ControllerRunner;
  private readonly recorder: EventRecorder;
  private discovered?: { at: number; resources: DiscoveredResource[] };

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'disruption' });
    this.recorder = new EventRecorder(ctx.client, { component: 'controllermanager' }, this.log);
    this.runner = new ControllerRunner({
      name: 'disruption',
      workers: 2,
      reconcile: (key) => this.sync(key),
      logger: this.log,
    });
    this.pdbs = ctx.informers.forResource(PDBS);
    this.pods = ctx.informers.forResource(R.pods);
    const workloadSpecs: ResourceSpec<ScaledWorkload>[] = [R.replicasets, R.deployments, R.statefulsets, RCS];
    for (const spec of workloadSpecs) this.workloads.set(spec.kind!, ctx.informers.forResource(spec));
    const enqueuePDB = (pdb: Stored<PodDisruptionBudget>) => this.runner.enqueue(keyOf(pdb));
    this.pdbs.addEventHandler({ add: enqueuePDB, update: (_o, n) => enqueuePDB(n), delete: enqueuePDB });
    const enqueueForPod = (pod: Stored<Pod>) => {
      for (const pdb of this.pdbsForPod(pod)) enqueuePDB(pdb);
    };
    this.pods.addEventHandler({
      add: enqueueForPod,
      update: (old, pod) => {
        enqueueForPod(pod);
        if (JSON.stringify(old.metadata?.labels) !== JSON.stringify(pod.metadata?.labels)) enqueueForPod(old);
      },
      delete: enqueueForPod,
    });
    // A controller's scale changes the expected count of percentage budgets.
    for (const inf of this.workloads.values()) {
      inf.addEventHandler({
        update: (old, obj) => {
          if (old.spec?.replicas === obj.spec?.replicas) return;
          for (const pdb of this.pdbs.store.listByNamespace(obj.metadata.namespace ?? '')) enqueuePDB(pdb);
        },
      });
    }
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private pdbsForPod(pod: Stored<Pod>): Stored<PodDisruptionBudget>[] {
    const ns = pod?.metadata?.namespace;
    if (!ns) return [];
    return this.pdbs.store.listByNamespace(ns).filter((pdb) => {
      try {
        return selectorFromLabelSelectorRaw(pdb.spec?.selector).matches(pod.metadata.labels);
      } catch {
        return false;
      }
    });
  }

  private podsForPDB(pdb: Stored<PodDisruptionBudget>): Stored<Pod>[] {
    const sel = selectorFromLabelSelectorRaw(pdb.spec?.selector);
    return this.pods.store.listByNamespace(pdb.metadata.namespace ?? '').filter((p) => sel.matches(p.metadata.labels));
  }

  private async discover(): Promise<DiscoveredResource[]> {
    if (!this.discovered || Date.now() - this.discovered.at > 30_000)
      this.discovered = { at: Date.now(), resources: await this.client.discover() };
    return this.discovered.resources;
  }

  /** The controller of a pod and its scale (upstream finders), or undefined when none is found. */
  private async controllerScale(
    ref: OwnerReference,
    namespace: string | undefined,
  ): Promise<{ uid: string; scale: number } | undefined> {
    const group = String(ref.apiVersion ?? '').includes('/') ? String(ref.apiVersion).split('/')[0] : '';
    const cached = (kind: string, name: string) => this.workloads.get(kind)?.store.getByName(namespace, name);
    if (group === 'apps' && ref.kind === 'ReplicaSet') {
      const rs = cached('ReplicaSet', ref.name);
      if (!rs || rs.metadata.uid !== ref.uid) return undefined;
      const owner = (rs.metadata.ownerReferences ?? []).find((o) => o.controller);
      if (owner && owner.kind === 'Deployment' && String(owner.apiVersion).startsWith('apps/')) {
        const d = cached('Deployment', owner.name);
        if (!d || d.metadata.uid !== owner.uid) return undefined;
        return { uid: d.metadata.uid, scale: d.spec?.replicas ?? 1 };
      }
      return { uid: rs.metadata.uid, scale: rs.spec?.replicas ?? 1 };
    }
    if ((group === 'apps' && ref.kind === 'StatefulSet') || (group === '' && ref.kind === 'ReplicationController')) {
      const w = cached(ref.kind, ref.name);
      if (!w || w.metadata.uid !== ref.uid) return undefined;
      return { uid: w.metadata.uid, scale: w.spec?.replicas ?? 1 };
    }
    // Anything else: its scale subresource.
    const r = (await this.discover()).find((d) => d.group === group && d.kind === ref.kind);
    if (!r) return undefined;
    try {
      const scale = (await this.client.transport.get({
        resource: r,
        namespace,
        name: ref.name,
        subresource: 'scale',
      })) as Scale;
      if (scale.metadata?.uid && scale.metadata.uid !== ref.uid) return undefined;
      return { uid: ref.uid, scale: scale.spec?.replicas ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** upstream getExpectedScale: the sum of the scales of the pods' controllers. */
  private async expectedScale(pods: Stored<Pod>[]): Promise<{ count: number; unmanaged: string[] }> {
    const scales = new Map<string, number>();
    const unmanaged: string[] = [];
    for (const pod of pods) {
      const ref = (pod.metadata.ownerReferences ?? []).find((o) => o.controller);
      if (!ref) {
        unmanaged.push(pod.metadata.name);
        continue;
      }
      if (scales.has(ref.uid)) continue;
      const found = await this.controllerScale(ref, pod.metadata.namespace);
      if (!found) throw new Error(`found no controllers for pod "${pod.metadata.name}"`);
      scales.set(found.uid, found.scale);
    }
    let count = 0;
    for (const n of scales.values()) count += n;
    return { count, unmanaged };
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    const cached = this.pdbs.store.get(key);
    if (!cached) return;
    const pdb = { apiVersion: 'policy/v1' as const, kind: 'PodDisruptionBudget' as const, ...cached };
    try {
      return await this.trySync(pdb);
    } catch (err) {
      this.log.debug({ err, pdb: key }, 'failed to sync pdb');
      await this.failSafe(pdb, err as Error);
      throw err;
    }
  }

  private async trySync(pdb: Stored<PodDisruptionBudget>): Promise<ReconcileResult | void> {
    const pods = this.podsForPDB(pdb);
    if (!pods.length) this.recorder.event(pdb, 'Normal', 'NoPods', 'No matching pods found');
    const spec: PodDisruptionBudgetSpec = pdb.spec ?? {};
    const needsScale =
      (spec.maxUnavailable !== undefined && spec.maxUnavailable !== null) || typeof spec.minAvailable === 'string';
    let scale = { count: 0, unmanaged: [] as string[] };
    if (needsScale) {
      try {
        scale = await this.expectedScale(pods);
      } catch (err) {
        this.recorder.event(
          pdb,
          'Warning',
          'CalculateExpectedPodCountFailed',
          `Failed to calculate the number of expected pods: ${(err as Error).message}`,
        );
        throw err;
      }
      if (scale.unmanaged.length) {
        this.recorder.event(
          pdb,
          'Warning',
          'UnmanagedPods',
          `Pods selected by this PodDisruptionBudget (selector: ${JSON.stringify(spec.selector)}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`,
        );
      }
    }
    const { expectedCount, desiredHealthy } = desiredHealthyFor(spec, pods.length, () => scale.count);
    const now = Date.now();
    const { disrupted, recheckAt, notDeleted } = buildDisruptedPodMap(pods, pdb, now);
    for (const name of notDeleted) {
      const pod = pods.find((p) => p.metadata.name === name);
      if (pod)
        this.recorder.event(
          pod,
          'Warning',
          'NotDeleted',
          `Pod was expected by PDB ${pdb.metadata.namespace}/${pdb.metadata.name} to be deleted but it wasn't`,
        );
    }
    const currentHealthy = countHealthyPods(pods, disrupted, now);
    const status = computeStatus(pdb, currentHealthy, desiredHealthy, expectedCount, disrupted);
    await this.writeStatus(pdb, status);
    if (recheckAt !== undefined) return { requeueAfterMs: Math.max(0, recheckAt - now) + 1000 };
  }

  private async writeStatus(pdb: Stored<PodDisruptionBudget>, status: PodDisruptionBudgetStatus): Promise<void> {
    if (JSON.stringify(status) === JSON.stringify(pdb.status ?? {})) return;
    const next = { ...structuredClone(pdb), status };
    await this.client.resource(PDBS).namespace(pdb.metadata.namespace).updateStatus(next);
  }

  /** On a failed sync nothing may be disrupted (upstream failSafe). */
  private async failSafe(pdb: Stored<PodDisruptionBudget>, err: Error): Promise<void> {
    // A budget never synced has no status yet: the counts the API defaults (0) stand in.
    const status: PodDisruptionBudgetStatus = {
      ...structuredClone(pdb.status ?? ({} as PodDisruptionBudgetStatus)),
      disruptionsAllowed: 0,
    };
    status.conditions = setCondition(status.conditions ?? [], {
      type: 'DisruptionAllowed',
      status: 'False',
      reason: 'SyncFailed',
      message: err.message,
      observedGeneration: status.observedGeneration ?? 0,
    });
    try {
      await this.writeStatus(pdb, status);
    } catch (e) {
      this.log.debug({ err: e }, 'failSafe status update failed');
    }
  }
}
