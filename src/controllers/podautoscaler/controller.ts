// The HorizontalPodAutoscaler controller (upstream pkg/controller/podautoscaler, autoscaling/v2):
// every sync period it reads the target's scale subresource (Deployments, ReplicaSets,
// StatefulSets, custom resources with scale), the pods its selector picks and their PodMetrics
// from metrics.k8s.io, computes the replicas each Resource metric asks for, normalizes them
// (stabilization windows, scaling policies, min/max), writes the new scale and records
// SuccessfulRescale, and keeps status (currentReplicas, desiredReplicas, currentMetrics,
// lastScaleTime, conditions AbleToScale / ScalingActive / ScalingLimited) as upstream does.
import type {
  ContainerResourceMetricStatus,
  CrossVersionObjectReference,
  HPAScalingRules,
  HorizontalPodAutoscaler,
  HorizontalPodAutoscalerCondition,
  HorizontalPodAutoscalerSpec,
  HorizontalPodAutoscalerStatus,
  MetricSpec,
  MetricStatus,
  MetricTarget,
  MetricValueStatus,
} from 'kubernetes-types/autoscaling/v2.js';
import type { Scale } from 'kubernetes-types/autoscaling/v1.js';
import type { Pod } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { Logger } from 'pino';
import { R, spec, type Client } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { keyOf, splitKey, type SharedIndexInformer } from '../../client/informer.js';
import type { DiscoveredResource, ResourceSpec, Stored } from '../../client/types.js';
import { parseSelector } from '../../machinery/labels.js';
import { Quantity, parseQuantityOrNull } from '../../machinery/quantity.js';
import type { Controller, ControllerContext } from '../types.js';
import { ScalingState } from './behavior.js';
import {
  type PodMetricsInfo,
  type Tolerances,
  DEFAULT_TOLERANCE,
  plainMetricReplicas,
  resourceReplicas,
} from './replicas.js';
import { rfc3339 } from '../../machinery/time.js';

const HPAS = R.horizontalpodautoscalers;

/** metrics.k8s.io/v1beta1 PodMetrics (metrics-server's type; not in kubernetes-types). */
interface PodMetrics {
  metadata?: ObjectMeta;
  /** RFC 3339 sample time and Go duration of the window ("10s"). */
  timestamp?: string;
  window?: string;
  containers?: { name: string; usage?: Record<string, string> }[];
}
const POD_METRICS = spec<PodMetrics>({
  group: 'metrics.k8s.io',
  version: 'v1beta1',
  plural: 'pods',
  namespaced: true,
  kind: 'PodMetrics',
});

/**
 * An HPA while the controller works on it: its status is filled in piece by piece (an HPA whose
 * target's scale cannot be read gets conditions but no desiredReplicas).
 */
type WorkingHPA = Omit<HorizontalPodAutoscaler, 'status'> & { status?: Partial<HorizontalPodAutoscalerStatus> };

/** Source of pod resource usage (metrics.k8s.io by default; tests may substitute one). */
export interface MetricsSource {
  /** Usage of `resource` per pod name (milli-units), optionally one container's only. */
  podMetrics(namespace: string, selector: string, resource: string, container?: string): Promise<PodMetricsInfo>;
}

/** Go duration strings as metrics-server writes them ("10s", "1m0s", "15.5s"). */
function durationMs(s: unknown): number {
  if (typeof s !== 'string') return 0;
  let ms = 0;
  for (const m of s.matchAll(/([\d.]+)(ms|h|m|s)/g))
    ms += Number(m[1]) * ({ h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as Record<string, number>)[m[2]];
  return ms;
}

export class MetricsAPISource implements MetricsSource {
  constructor(private readonly client: Client) {}

  async podMetrics(namespace: string, selector: string, resource: string, container?: string): Promise<PodMetricsInfo> {
    const list = await this.client.resource(POD_METRICS).namespace(namespace).list({ labelSelector: selector });
    const out: PodMetricsInfo = new Map();
    for (const pm of list.items ?? []) {
      let sum = 0;
      let missing = false;
      const containers = pm.containers ?? [];
      for (const c of containers) {
        if (container && c.name !== container) continue;
        const q = parseQuantityOrNull(c.usage?.[resource]);
        if (!q) {
          missing = true;
          break;
        }
        sum += q.milliValue();
      }
      if (missing || !containers.length) continue;
      out.set(pm.metadata.name, {
        value: sum,
        timestamp: pm.timestamp ? Date.parse(pm.timestamp) : Date.now(),
        windowMs: durationMs(pm.window),
      });
    }
    if (!out.size) throw new Error('no metrics returned from resource metrics API');
    return out;
  }
}

export interface HPAControllerOptions {
  /** --horizontal-pod-autoscaler-sync-period (ms, default 15 s). */
  syncPeriodMs?: number;
  /** --horizontal-pod-autoscaler-downscale-stabilization (ms, default 5 min), for HPAs without behavior. */
  downscaleStabilizationMs?: number;
  /** --horizontal-pod-autoscaler-tolerance (default 0.1). */
  tolerance?: number;
  metrics?: MetricsSource;
}

interface MetricResult {
  replicas: number;
  name: string;
  status: MetricStatus;
}

class MetricError extends Error {
  constructor(
    message: string,
    readonly condition: { reason: string; message: string },
  ) {
    super(message);
  }
}

function setCondition(hpa: WorkingHPA, type: string, status: 'True' | 'False', reason: string, message: string): void {
  const st = (hpa.status ??= {});
  const conditions: HorizontalPodAutoscalerCondition[] = st.conditions ?? [];
  const i = conditions.findIndex((c) => c.type === type);
  const prev = i >= 0 ? conditions[i] : undefined;
  const next = {
    type,
    status,
    lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : rfc3339(),
    reason,
    message,
  };
  if (i >= 0) conditions[i] = next;
  else conditions.push(next);
  st.conditions = conditions;
}

export class HorizontalPodAutoscalerController implements Controller {
  readonly name = 'horizontalpodautoscaling';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly hpas: SharedIndexInformer<HorizontalPodAutoscaler>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly runner: ControllerRunner;
  private readonly recorder: EventRecorder;
  private readonly state: ScalingState;
  private readonly metrics: MetricsSource;
  readonly syncPeriodMs: number;
  private readonly tolerance: number;
  private discovered?: { at: number; resources: DiscoveredResource[] };

  constructor(ctx: ControllerContext, opts: HPAControllerOptions = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'horizontalpodautoscaling' });
    const o = ctx.options ?? {};
    const env = (name: string) => (process.env[name] ? Number(process.env[name]) : undefined);
    this.syncPeriodMs =
      opts.syncPeriodMs ??
      (o.horizontalPodAutoscalerSyncPeriodMs as number | undefined) ??
      env('K8TS_HPA_SYNC_PERIOD_MS') ??
      15_000;
    this.tolerance = opts.tolerance ?? (o.horizontalPodAutoscalerTolerance as number | undefined) ?? DEFAULT_TOLERANCE;
    this.state = new ScalingState(
      opts.downscaleStabilizationMs ??
        (o.horizontalPodAutoscalerDownscaleStabilizationMs as number | undefined) ??
        env('K8TS_HPA_DOWNSCALE_STABILIZATION_MS') ??
        5 * 60_000,
    );
    this.metrics = opts.metrics ?? new MetricsAPISource(ctx.client);
    this.recorder = new EventRecorder(ctx.client, { component: 'horizontal-pod-autoscaler' }, this.log);
    this.runner = new ControllerRunner({
      name: 'horizontalpodautoscaling',
      workers: 5,
      reconcile: (key) => this.sync(key),
      logger: this.log,
    });
    this.hpas = ctx.informers.forResource(HPAS);
    this.pods = ctx.informers.forResource(R.pods);
    this.hpas.addEventHandler({
      add: (h) => this.runner.enqueue(keyOf(h)),
      update: (old, h) => {
        if (old.metadata.generation !== h.metadata.generation) this.runner.enqueue(keyOf(h));
      },
      delete: (h) => this.state.forget(keyOf(h)),
    });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private async discover(): Promise<DiscoveredResource[]> {
    if (!this.discovered || Date.now() - this.discovered.at > 30_000)
      this.discovered = { at: Date.now(), resources: await this.client.discover() };
    return this.discovered.resources;
  }

  /** The resource a scaleTargetRef names (upstream: the REST mapping of its group and kind). */
  private async targetResource(ref: Partial<CrossVersionObjectReference>): Promise<ResourceSpec> {
    const apiVersion = String(ref?.apiVersion ?? '');
    const group = apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
    let r = (await this.discover()).find((d) => d.group === group && d.kind === ref?.kind);
    if (!r) {
      this.discovered = undefined;
      r = (await this.discover()).find((d) => d.group === group && d.kind === ref?.kind);
    }
    if (!r)
      throw new Error(
        `unable to determine resource for scale target reference: no matches for kind "${ref?.kind}" in group "${group}"`,
      );
    return r;
  }

  /** The target's scale subresource (autoscaling/v1 Scale, whatever the target's kind). */
  private async getScale(
    target: ResourceSpec,
    namespace: string | undefined,
    name: string | undefined,
  ): Promise<Scale> {
    return (await this.client.transport.get({ resource: target, namespace, name, subresource: 'scale' })) as Scale;
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    const cached = this.hpas.store.get(key);
    if (!cached) {
      this.state.forget(key);
      return;
    }
    try {
      await this.reconcile(
        { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', ...structuredClone(cached) },
        key,
      );
    } catch (err) {
      this.log.debug({ err, hpa: key }, 'hpa reconcile failed');
    }
    return { requeueAfterMs: this.syncPeriodMs };
  }

  /** upstream reconcileAutoscaler. */
  async reconcile(hpa: Stored<WorkingHPA>, key: string): Promise<void> {
    const original = structuredClone(hpa.status ?? {});
    const { namespace } = splitKey(key);
    const spec: Partial<HorizontalPodAutoscalerSpec> = hpa.spec ?? {};
    const ref: Partial<CrossVersionObjectReference> = spec.scaleTargetRef ?? {};
    const refString = `${ref.kind}/${ref.name}`;
    let target: ResourceSpec;
    let scale: Scale;
    try {
      target = await this.targetResource(ref);
      scale = await this.getScale(target, namespace, ref.name);
    } catch (err) {
      const msg = (err as Error).message;
      setCondition(
        hpa,
        'AbleToScale',
        'False',
        'FailedGetScale',
        `the HPA controller was unable to get the target's current scale: ${msg}`,
      );
      this.recorder.event(hpa, 'Warning', 'FailedGetScale', msg);
      await this.updateStatusIfNeeded(original, hpa);
      throw new Error(`failed to query scale subresource for ${refString}: ${msg}`, { cause: err });
    }
    setCondition(
      hpa,
      'AbleToScale',
      'True',
      'SucceededGetScale',
      "the HPA controller was able to get the target's current scale",
    );
    const currentReplicas: number = scale.spec?.replicas ?? 0;
    const minReplicas: number = spec.minReplicas ?? 1;
    const maxReplicas = spec.maxReplicas as number; // required by validation
    let desiredReplicas = 0;
    let rescaleReason = '';
    let metricStatuses: MetricStatus[] = hpa.status?.currentMetrics ?? [];
    let rescale = true;
    if (currentReplicas === 0 && minReplicas !== 0) {
      desiredReplicas = 0;
      rescale = false;
      setCondition(
        hpa,
        'ScalingActive',
        'False',
        'ScalingDisabled',
        'scaling is disabled since the replica count of the target is zero',
      );
    } else if (currentReplicas > maxReplicas) {
      rescaleReason = 'Current number of replicas above Spec.MaxReplicas';
      desiredReplicas = maxReplicas;
    } else if (currentReplicas < minReplicas) {
      rescaleReason = 'Current number of replicas below Spec.MinReplicas';
      desiredReplicas = minReplicas;
    } else {
      let computed: { replicas: number; metric: string; statuses: MetricStatus[] };
      try {
        computed = await this.computeReplicasForMetrics(hpa, scale, spec.metrics ?? [], namespace!);
      } catch (err) {
        if (err instanceof MetricsFailure) {
          this.setStatus(hpa, currentReplicas, hpa.status?.desiredReplicas ?? currentReplicas, err.statuses, false);
          await this.updateStatusIfNeeded(original, hpa);
          this.recorder.event(hpa, 'Warning', 'FailedComputeMetricsReplicas', err.message);
        }
        throw err;
      }
      metricStatuses = computed.statuses;
      let rescaleMetric = '';
      if (computed.replicas > desiredReplicas) {
        desiredReplicas = computed.replicas;
        rescaleMetric = computed.metric;
      }
      if (desiredReplicas > currentReplicas) rescaleReason = `${rescaleMetric} above target`;
      if (desiredReplicas < currentReplicas) rescaleReason = 'All metrics below target';
      const outcome = spec.behavior
        ? this.state.normalizeWithBehaviors(
            key,
            currentReplicas,
            desiredReplicas,
            minReplicas,
            maxReplicas,
            spec.behavior.scaleUp ?? {},
            spec.behavior.scaleDown ?? {},
          )
        : this.state.normalize(key, currentReplicas, desiredReplicas, minReplicas, maxReplicas);
      setCondition(hpa, 'AbleToScale', 'True', outcome.ableToScale.reason, outcome.ableToScale.message);
      setCondition(
        hpa,
        'ScalingLimited',
        outcome.scalingLimited.status,
        outcome.scalingLimited.reason,
        outcome.scalingLimited.message,
      );
      desiredReplicas = outcome.replicas;
      rescale = desiredReplicas !== currentReplicas;
    }
    if (rescale) {
      try {
        await this.client.transport.update(
          { resource: target, namespace, name: ref.name, subresource: 'scale' },
          { ...scale, spec: { ...scale.spec, replicas: desiredReplicas } },
        );
      } catch (err) {
        const msg = (err as Error).message;
        this.recorder.event(
          hpa,
          'Warning',
          'FailedRescale',
          `New size: ${desiredReplicas}; reason: ${rescaleReason}; error: ${msg}`,
        );
        setCondition(
          hpa,
          'AbleToScale',
          'False',
          'FailedUpdateScale',
          `the HPA controller was unable to update the target scale: ${msg}`,
        );
        this.setStatus(hpa, currentReplicas, desiredReplicas, metricStatuses, false);
        await this.updateStatusIfNeeded(original, hpa);
        throw new Error(`failed to rescale ${refString}: ${msg}`, { cause: err });
      }
      setCondition(
        hpa,
        'AbleToScale',
        'True',
        'SucceededRescale',
        `the HPA controller was able to update the target scale to ${desiredReplicas}`,
      );
      this.recorder.event(hpa, 'Normal', 'SuccessfulRescale', `New size: ${desiredReplicas}; reason: ${rescaleReason}`);
      this.state.storeScaleEvent(key, spec.behavior, currentReplicas, desiredReplicas);
      this.log.info(
        { hpa: key, from: currentReplicas, to: desiredReplicas, reason: rescaleReason },
        'successful rescale',
      );
    } else {
      desiredReplicas = currentReplicas;
    }
    this.setStatus(hpa, currentReplicas, desiredReplicas, metricStatuses, rescale);
    await this.updateStatusIfNeeded(original, hpa);
  }

  private setStatus(
    hpa: WorkingHPA,
    current: number,
    desired: number,
    metrics: MetricStatus[],
    rescale: boolean,
  ): void {
    const st = hpa.status ?? {};
    const next: HorizontalPodAutoscalerStatus = { currentReplicas: current, desiredReplicas: desired };
    if (metrics.length) next.currentMetrics = metrics;
    const lastScaleTime = rescale ? rfc3339() : st.lastScaleTime;
    if (lastScaleTime) next.lastScaleTime = lastScaleTime;
    if (st.conditions) next.conditions = st.conditions;
    if (st.observedGeneration !== undefined) next.observedGeneration = st.observedGeneration;
    hpa.status = next;
  }

  private async updateStatusIfNeeded(original: WorkingHPA['status'], hpa: Stored<WorkingHPA>): Promise<void> {
    if (JSON.stringify(original) === JSON.stringify(hpa.status ?? {})) return;
    try {
      // The status may still lack desiredReplicas (see WorkingHPA); the API accepts it so.
      const body = { ...hpa, metadata: { ...hpa.metadata, resourceVersion: undefined } } as HorizontalPodAutoscaler;
      await this.client.resource(HPAS).namespace(hpa.metadata.namespace).updateStatus(body);
    } catch (err) {
      if (!isNotFound(err)) {
        this.recorder.event(hpa, 'Warning', 'FailedUpdateStatus', (err as Error).message);
        throw err;
      }
    }
  }

  /** upstream computeReplicasForMetrics. */
  private async computeReplicasForMetrics(
    hpa: WorkingHPA,
    scale: Scale,
    metricSpecs: MetricSpec[],
    namespace: string,
  ): Promise<{ replicas: number; metric: string; statuses: MetricStatus[] }> {
    const selector: string | undefined = scale.status?.selector;
    if (!selector) {
      const msg = "the HPA target's scale is missing a selector";
      this.recorder.event(hpa, 'Warning', 'SelectorRequired', 'selector is required');
      setCondition(hpa, 'ScalingActive', 'False', 'InvalidSelector', msg);
      throw new MetricsFailure(msg, []);
    }
    const specReplicas: number = scale.spec?.replicas ?? 0;
    const statuses: MetricStatus[] = [];
    let replicas = 0;
    let metric = '';
    let invalid = 0;
    let firstError: MetricError | undefined;
    for (const ms of metricSpecs) {
      try {
        const r = await this.computeReplicasForMetric(hpa, ms, specReplicas, selector, namespace);
        statuses.push(r.status);
        if (replicas === 0 || r.replicas > replicas) {
          replicas = r.replicas;
          metric = r.name;
        }
      } catch (err) {
        statuses.push({ type: '' });
        const me =
          err instanceof MetricError
            ? err
            : new MetricError((err as Error).message, { reason: 'FailedGetMetric', message: (err as Error).message });
        if (!firstError) firstError = me;
        invalid++;
      }
    }
    const valid = statuses.filter((s) => s.type !== '');
    if (invalid >= metricSpecs.length || (invalid > 0 && replicas < specReplicas)) {
      setCondition(hpa, 'ScalingActive', 'False', firstError!.condition.reason, firstError!.condition.message);
      throw new MetricsFailure(
        `invalid metrics (${invalid} invalid out of ${metricSpecs.length}), first error is: ${firstError!.message}`,
        valid,
      );
    }
    setCondition(
      hpa,
      'ScalingActive',
      'True',
      'ValidMetricFound',
      `the HPA was able to successfully calculate a replica count from ${metric}`,
    );
    return { replicas, metric, statuses: valid };
  }

  private tolerances(hpa: WorkingHPA): Tolerances {
    // HPAScalingRules.tolerance (alpha, HPAConfigurableTolerance) is newer than kubernetes-types.
    const t = (rules: (HPAScalingRules & { tolerance?: string | number }) | undefined) => {
      const q = parseQuantityOrNull(rules?.tolerance);
      return q ? q.asNumber() : this.tolerance;
    };
    return { scaleUp: t(hpa.spec?.behavior?.scaleUp), scaleDown: t(hpa.spec?.behavior?.scaleDown) };
  }

  private async computeReplicasForMetric(
    hpa: WorkingHPA,
    ms: MetricSpec | undefined,
    specReplicas: number,
    selector: string,
    namespace: string,
  ): Promise<MetricResult> {
    const isContainer = ms?.type === 'ContainerResource';
    const res = isContainer ? ms.containerResource : ms?.resource;
    if ((ms?.type !== 'Resource' && !isContainer) || !res) {
      const msg = `unsupported metric source type "${ms?.type}"`;
      this.recorder.event(hpa, 'Warning', 'FailedGetMetric', msg);
      throw new MetricError(msg, {
        reason: 'InvalidMetricSourceType',
        message: `the HPA was unable to compute the replica count: ${msg}`,
      });
    }
    const resource: string = res.name;
    const container: string | undefined = isContainer ? ms.containerResource?.container : undefined;
    const reasonPrefix = isContainer ? 'FailedGetContainerResourceMetric' : 'FailedGetResourceMetric';
    const fail = (err: unknown): never => {
      const msg = (err as Error).message;
      this.recorder.event(hpa, 'Warning', reasonPrefix, msg);
      throw new MetricError(`failed to get ${resource} resource metric value: ${msg}`, {
        reason: reasonPrefix,
        message: `the HPA was unable to compute the replica count: ${msg}`,
      });
    };
    let metrics: PodMetricsInfo;
    try {
      metrics = await this.metrics.podMetrics(namespace, selector, resource, container);
    } catch (err) {
      return fail(new Error(`unable to get metrics for resource ${resource}: ${(err as Error).message}`));
    }
    const sel = parseSelector(selector);
    const pods = this.pods.store.listByNamespace(namespace).filter((p) => sel.matches(p.metadata.labels));
    const target: Partial<MetricTarget> = res.target ?? {};
    const base = (current: MetricValueStatus): MetricStatus => {
      const source = { name: resource, ...(container ? { container } : {}), current };
      // A ContainerResource spec names its container (validation requires it).
      return isContainer
        ? { type: ms.type, containerResource: source as ContainerResourceMetricStatus }
        : { type: ms.type, resource: source };
    };
    try {
      if (target.averageValue !== undefined && target.averageValue !== null) {
        const targetMilli = Quantity.parse(target.averageValue).milliValue();
        const r = plainMetricReplicas(specReplicas, targetMilli, resource, this.tolerances(hpa), pods, metrics);
        const name = isContainer ? `${resource} container resource` : `${resource} resource`;
        return { replicas: r.replicas, name, status: base({ averageValue: Quantity.fromMilli(r.usage).toString() }) };
      }
      if (target.averageUtilization === undefined || target.averageUtilization === null) {
        throw new Error('invalid resource metric source: neither a utilization target nor a value target was set');
      }
      const r = resourceReplicas(
        specReplicas,
        target.averageUtilization,
        resource,
        this.tolerances(hpa),
        pods,
        metrics,
        container,
      );
      const name = isContainer
        ? `${resource} container resource utilization (percentage of request)`
        : `${resource} resource utilization (percentage of request)`;
      return {
        replicas: r.replicas,
        name,
        status: base({
          averageValue: Quantity.fromMilli(r.rawUtilization).toString(),
          averageUtilization: r.utilization,
        }),
      };
    } catch (err) {
      if (err instanceof MetricError) throw err;
      return fail(err);
    }
  }
}

class MetricsFailure extends Error {
  constructor(
    message: string,
    readonly statuses: MetricStatus[],
  ) {
    super(message);
  }
}
