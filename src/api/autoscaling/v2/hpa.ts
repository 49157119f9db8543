// autoscaling HorizontalPodAutoscaler: stored at autoscaling/v2, served at v2 and v1. v1 only
// knows a CPU utilization target; everything else rides in annotations (as upstream's
// conversion does) so a read-modify-write through v1 loses nothing.
import type { KObject, ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { isDNS1123Label, isPathSegmentName } from '../../../machinery/validation.js';
import { Quantity } from '../../../machinery/quantity.js';
import { horizontalPodAutoscalerColumns, horizontalPodAutoscalerV1Columns } from './tables.js';
import { clearStatus, clone, ensure, isObject } from '../../apps/v1/workload.js';

export const DEFAULT_CPU_UTILIZATION = 80;
export const METRIC_SPECS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/metrics';
export const METRIC_STATUSES_ANNOTATION = 'autoscaling.alpha.kubernetes.io/current-metrics';
export const CONDITIONS_ANNOTATION = 'autoscaling.alpha.kubernetes.io/conditions';
export const BEHAVIOR_ANNOTATION = 'autoscaling.alpha.kubernetes.io/behavior';
const ROUND_TRIP_ANNOTATIONS = [
  METRIC_SPECS_ANNOTATION,
  METRIC_STATUSES_ANNOTATION,
  CONDITIONS_ANNOTATION,
  BEHAVIOR_ANNOTATION,
];

const MAX_PERIOD_SECONDS = 1800;
const MAX_STABILIZATION_WINDOW_SECONDS = 3600;

const isSet = (v: unknown): boolean => v !== undefined && v !== null;

// ---------------------------------------------------------------------------------------------
// Defaults

const defaultScaleUpRules = () => ({
  stabilizationWindowSeconds: 0,
  selectPolicy: 'Max',
  policies: [
    { type: 'Pods', value: 4, periodSeconds: 15 },
    { type: 'Percent', value: 100, periodSeconds: 15 },
  ],
});

const defaultScaleDownRules = () => ({
  selectPolicy: 'Max',
  policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
});

function fillRules(from: any, to: any): any {
  if (!isObject(from)) return to;
  if (isSet(from.selectPolicy)) to.selectPolicy = from.selectPolicy;
  if (isSet(from.stabilizationWindowSeconds)) to.stabilizationWindowSeconds = from.stabilizationWindowSeconds;
  if (isSet(from.policies)) to.policies = from.policies;
  if (isSet(from.tolerance)) to.tolerance = from.tolerance;
  return to;
}

/** SetDefaults_HorizontalPodAutoscaler (autoscaling/v2). */
export function defaultHPA(obj: any): void {
  const spec = ensure(obj, 'spec');
  if (!isSet(spec.minReplicas)) spec.minReplicas = 1;
  if (!Array.isArray(spec.metrics) || spec.metrics.length === 0) {
    spec.metrics = [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } },
      },
    ];
  }
  if (isObject(spec.behavior)) {
    spec.behavior.scaleUp = fillRules(spec.behavior.scaleUp, defaultScaleUpRules());
    spec.behavior.scaleDown = fillRules(spec.behavior.scaleDown, defaultScaleDownRules());
  }
}

// ---------------------------------------------------------------------------------------------
// Validation

export function validateCrossVersionObjectReference(ref: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  for (const k of ['kind', 'name']) {
    const v = ref?.[k];
    if (typeof v !== 'string' || v.length === 0) errs.push(required(p.child(k)));
    else for (const m of isPathSegmentName(v)) errs.push(invalid(p.child(k), v, m));
  }
  return errs;
}

function quantitySign(v: unknown): number | undefined {
  try {
    return Quantity.parse(v as string).sign();
  } catch {
    return undefined;
  }
}

function validateMetricTarget(t: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const type = t?.type;
  if (!type) errs.push(required(p.child('type'), 'must specify a metric target type'));
  if (type !== 'Utilization' && type !== 'Value' && type !== 'AverageValue') {
    errs.push(invalid(p.child('type'), type ?? '', 'must be either Utilization, Value, or AverageValue'));
  }
  if (isSet(t?.value) && quantitySign(t.value) !== 1) errs.push(invalid(p.child('value'), t.value, 'must be positive'));
  if (isSet(t?.averageValue) && quantitySign(t.averageValue) !== 1)
    errs.push(invalid(p.child('averageValue'), t.averageValue, 'must be positive'));
  if (isSet(t?.averageUtilization) && t.averageUtilization < 1)
    errs.push(invalid(p.child('averageUtilization'), t.averageUtilization, 'must be greater than 0'));
  return errs;
}

function validateMetricIdentifier(id: any, p: FieldPath): FieldError[] {
  if (!id?.name) return [required(p.child('name'), 'must specify a metric name')];
  return isPathSegmentName(id.name).map((m) => invalid(p.child('name'), id.name, m));
}

function validateResourceSource(src: any, p: FieldPath, container: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (!src.name) errs.push(required(p.child('name'), 'must specify a resource name'));
  if (container) {
    if (!src.container) errs.push(required(p.child('container'), 'must specify a container'));
    else for (const m of isDNS1123Label(src.container)) errs.push(invalid(p.child('container'), src.container, m));
  }
  errs.push(...validateMetricTarget(src.target, p.child('target')));
  const t = src.target ?? {};
  if (!isSet(t.averageUtilization) && !isSet(t.averageValue)) {
    errs.push(
      required(p.child('target', 'averageUtilization'), 'must set either a target raw value or a target utilization'),
    );
  }
  if (isSet(t.averageUtilization) && isSet(t.averageValue)) {
    errs.push(
      forbidden(p.child('target', 'averageValue'), 'may not set both a target raw value and a target utilization'),
    );
  }
  return errs;
}

const METRIC_SOURCE_TYPES = ['Object', 'Pods', 'Resource', 'External', 'ContainerResource'];
const SOURCE_FIELD: Record<string, string> = {
  Object: 'object',
  Pods: 'pods',
  Resource: 'resource',
  External: 'external',
  ContainerResource: 'containerResource',
};

function validateMetricSpec(m: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!m?.type) errs.push(required(p.child('type'), 'must specify a metric source type'));
  const present = Object.values(SOURCE_FIELD).filter((f) => isSet(m?.[f]));
  if (present.length === 1) {
    const f = present[0];
    const src = m[f];
    const sp = p.child(f);
    switch (f) {
      case 'object':
        errs.push(...validateCrossVersionObjectReference(src.describedObject, sp.child('describedObject')));
        errs.push(...validateMetricIdentifier(src.metric, sp.child('metric')));
        errs.push(...validateMetricTarget(src.target, sp.child('target')));
        if (!isSet(src.target?.value) && !isSet(src.target?.averageValue)) {
          errs.push(required(sp.child('target', 'averageValue'), 'must set either a target value or averageValue'));
        }
        break;
      case 'pods':
        errs.push(...validateMetricIdentifier(src.metric, sp.child('metric')));
        errs.push(...validateMetricTarget(src.target, sp.child('target')));
        if (!isSet(src.target?.averageValue))
          errs.push(required(sp.child('target', 'averageValue'), 'must specify a positive target averageValue'));
        break;
      case 'external':
        errs.push(...validateMetricIdentifier(src.metric, sp.child('metric')));
        errs.push(...validateMetricTarget(src.target, sp.child('target')));
        if (!isSet(src.target?.value) && !isSet(src.target?.averageValue)) {
          errs.push(
            required(
              sp.child('target', 'averageValue'),
              'must set either a target value for metric or a per-pod target',
            ),
          );
        }
        if (isSet(src.target?.value) && isSet(src.target?.averageValue)) {
          errs.push(
            forbidden(sp.child('target', 'value'), 'may not set both a target value for metric and a per-pod target'),
          );
        }
        break;
      case 'resource':
        errs.push(...validateResourceSource(src, sp, false));
        break;
      case 'containerResource':
        errs.push(...validateResourceSource(src, sp, true));
        break;
    }
  }
  const expected = SOURCE_FIELD[m?.type];
  if (expected === undefined) {
    errs.push(notSupported(p.child('type'), m?.type ?? '', METRIC_SOURCE_TYPES));
  } else if (!isSet(m[expected])) {
    errs.push(required(p.child(expected), 'must populate information for the given metric source'));
  }
  if (present.length !== 1) {
    for (const f of present)
      if (f !== expected) errs.push(forbidden(p.child(f), 'must populate the given metric source only'));
  }
  return errs;
}

function validateScalingRules(rules: any, p: FieldPath): FieldError[] {
  if (!isSet(rules)) return [];
  const errs: FieldError[] = [];
  const sw = rules.stabilizationWindowSeconds;
  if (isSet(sw) && sw < 0)
    errs.push(invalid(p.child('stabilizationWindowSeconds'), sw, 'must be greater than or equal to zero'));
  if (isSet(sw) && sw > MAX_STABILIZATION_WINDOW_SECONDS) {
    errs.push(
      invalid(
        p.child('stabilizationWindowSeconds'),
        sw,
        `must be less than or equal to ${MAX_STABILIZATION_WINDOW_SECONDS}`,
      ),
    );
  }
  if (isSet(rules.selectPolicy) && !['Max', 'Min', 'Disabled'].includes(rules.selectPolicy)) {
    errs.push(notSupported(p.child('selectPolicy'), rules.selectPolicy, ['Disabled', 'Max', 'Min']));
  }
  const policies: any[] = rules.policies ?? [];
  if (policies.length === 0) errs.push(required(p.child('policies'), 'must specify at least one Policy'));
  policies.forEach((pol, i) => {
    const pp = p.child('policies').index(i);
    if (pol?.type !== 'Pods' && pol?.type !== 'Percent')
      errs.push(notSupported(pp.child('type'), pol?.type ?? '', ['Percent', 'Pods']));
    if (!((pol?.value ?? 0) > 0)) errs.push(invalid(pp.child('value'), pol?.value ?? 0, 'must be greater than zero'));
    const ps = pol?.periodSeconds ?? 0;
    if (!(ps > 0)) errs.push(invalid(pp.child('periodSeconds'), ps, 'must be greater than zero'));
    if (ps > MAX_PERIOD_SECONDS)
      errs.push(invalid(pp.child('periodSeconds'), ps, `must be less than or equal to ${MAX_PERIOD_SECONDS}`));
  });
  if (isSet(rules.tolerance) && quantitySign(rules.tolerance) === -1) {
    errs.push(invalid(p.child('tolerance'), rules.tolerance, 'must be greater than or equal to zero'));
  }
  return errs;
}

export function validateHPASpec(spec: any, p: FieldPath): FieldError[] {
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  const min = spec.minReplicas;
  if (isSet(min) && min < 1) errs.push(invalid(p.child('minReplicas'), min, 'must be greater than or equal to 1'));
  const max = spec.maxReplicas ?? 0;
  if (max < 1) errs.push(invalid(p.child('maxReplicas'), max, 'must be greater than 0'));
  if (isSet(min) && max < min)
    errs.push(invalid(p.child('maxReplicas'), max, 'must be greater than or equal to `minReplicas`'));
  errs.push(...validateCrossVersionObjectReference(spec.scaleTargetRef, p.child('scaleTargetRef')));
  (spec.metrics ?? []).forEach((m: any, i: number) => errs.push(...validateMetricSpec(m, p.child('metrics').index(i))));
  if (isSet(spec.behavior)) {
    errs.push(...validateScalingRules(spec.behavior.scaleUp, p.child('behavior', 'scaleUp')));
    errs.push(...validateScalingRules(spec.behavior.scaleDown, p.child('behavior', 'scaleDown')));
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------
// autoscaling/v1 <-> autoscaling/v2

const isCpuUtilization = (m: any): boolean =>
  m?.type === 'Resource' && m.resource?.name === 'cpu' && isSet(m.resource?.target?.averageUtilization);

const setIf = (o: Record<string, unknown>, k: string, v: unknown): void => {
  if (isSet(v)) o[k] = v;
};

/**
 * A v2 MetricSpec (side `target`) or MetricStatus (side `current`) -> the v1 (v2beta1-shaped)
 * one kept in the annotation, whose values are named `targetX` / `currentX`.
 */
function metricToV1(m: any, side: 'target' | 'current'): any {
  const out: any = { type: m.type };
  const v = (x: any) => x?.[side] ?? {};
  if (isObject(m.object)) {
    const o: any = { target: m.object.describedObject ?? {}, metricName: m.object.metric?.name ?? '' };
    o[`${side}Value`] = v(m.object).value ?? '0';
    setIf(o, 'selector', m.object.metric?.selector);
    setIf(o, 'averageValue', v(m.object).averageValue);
    out.object = o;
  }
  if (isObject(m.pods)) {
    const o: any = { metricName: m.pods.metric?.name ?? '', [`${side}AverageValue`]: v(m.pods).averageValue ?? '0' };
    setIf(o, 'selector', m.pods.metric?.selector);
    out.pods = o;
  }
  for (const f of ['resource', 'containerResource']) {
    if (!isObject(m[f])) continue;
    const o: any = { name: m[f].name };
    if (f === 'containerResource') o.container = m[f].container;
    setIf(o, `${side}AverageUtilization`, v(m[f]).averageUtilization);
    setIf(o, `${side}AverageValue`, v(m[f]).averageValue);
    out[f] = o;
  }
  if (isObject(m.external)) {
    const o: any = { metricName: m.external.metric?.name ?? '' };
    // v2beta1: an external metric's currentValue is required, its targetValue optional.
    if (side === 'current') o.currentValue = v(m.external).value ?? '0';
    setIf(o, 'metricSelector', m.external.metric?.selector);
    if (side === 'target') setIf(o, 'targetValue', v(m.external).value);
    setIf(o, `${side}AverageValue`, v(m.external).averageValue);
    out.external = o;
  }
  return out;
}

function metricSpecFromV1(m: any): any {
  const out: any = { type: m?.type };
  if (isObject(m?.object)) {
    const o = m.object;
    const target: any = { type: isSet(o.averageValue) ? 'AverageValue' : 'Value' };
    setIf(target, 'value', o.targetValue);
    setIf(target, 'averageValue', o.averageValue);
    const metric: any = { name: o.metricName ?? '' };
    setIf(metric, 'selector', o.selector);
    out.object = { describedObject: o.target ?? {}, metric, target };
  }
  if (isObject(m?.pods)) {
    const metric: any = { name: m.pods.metricName ?? '' };
    setIf(metric, 'selector', m.pods.selector);
    const target: any = { type: 'AverageValue' };
    setIf(target, 'averageValue', m.pods.targetAverageValue);
    out.pods = { metric, target };
  }
  for (const f of ['resource', 'containerResource']) {
    const o = m?.[f];
    if (!isObject(o)) continue;
    const target: any = { type: isSet(o.targetAverageUtilization) ? 'Utilization' : 'AverageValue' };
    setIf(target, 'averageUtilization', o.targetAverageUtilization);
    setIf(target, 'averageValue', o.targetAverageValue);
    const r: any = { name: o.name };
    if (f === 'containerResource') r.container = o.container;
    r.target = target;
    out[f] = r;
  }
  if (isObject(m?.external)) {
    const o = m.external;
    const metric: any = { name: o.metricName ?? '' };
    setIf(metric, 'selector', o.metricSelector);
    const target: any = { type: isSet(o.targetValue) ? 'Value' : 'AverageValue' };
    setIf(target, 'value', o.targetValue);
    setIf(target, 'averageValue', o.targetAverageValue);
    out.external = { metric, target };
  }
  return out;
}

function metricStatusFromV1(m: any): any {
  const out: any = { type: m?.type };
  if (isObject(m?.object)) {
    const o = m.object;
    const metric: any = { name: o.metricName ?? '' };
    setIf(metric, 'selector', o.selector);
    const current: any = {};
    setIf(current, 'value', o.currentValue);
    setIf(current, 'averageValue', o.averageValue);
    out.object = { describedObject: o.target ?? {}, metric, current };
  }
  if (isObject(m?.pods)) {
    const metric: any = { name: m.pods.metricName ?? '' };
    setIf(metric, 'selector', m.pods.selector);
    const current: any = {};
    setIf(current, 'averageValue', m.pods.currentAverageValue);
    out.pods = { metric, current };
  }
  for (const f of ['resource', 'containerResource']) {
    const o = m?.[f];
    if (!isObject(o)) continue;
    const current: any = {};
    setIf(current, 'averageUtilization', o.currentAverageUtilization);
    setIf(current, 'averageValue', o.currentAverageValue);
    const r: any = { name: o.name };
    if (f === 'containerResource') r.container = o.container;
    r.current = current;
    out[f] = r;
  }
  if (isObject(m?.external)) {
    const o = m.external;
    const metric: any = { name: o.metricName ?? '' };
    setIf(metric, 'selector', o.metricSelector);
    const current: any = {};
    setIf(current, 'value', o.currentValue);
    setIf(current, 'averageValue', o.currentAverageValue);
    out.external = { metric, current };
  }
  return out;
}

/** Upstream writes behavior with Go's field names (an internal type without JSON tags). */
function rulesToGo(r: any): any {
  if (!isObject(r)) return null;
  const out: any = {
    StabilizationWindowSeconds: r.stabilizationWindowSeconds ?? null,
    SelectPolicy: r.selectPolicy ?? null,
    Policies: Array.isArray(r.policies)
      ? r.policies.map((p: any) => ({ Type: p.type, Value: p.value, PeriodSeconds: p.periodSeconds }))
      : null,
  };
  if (isSet(r.tolerance)) out.Tolerance = r.tolerance;
  return out;
}

/** Go's json.Unmarshal matches keys case-insensitively: accept either spelling. */
function pick(o: any, name: string): any {
  if (!isObject(o)) return undefined;
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

function rulesFromGo(r: any): any {
  if (!isObject(r)) return undefined;
  const out: any = {};
  setIf(out, 'stabilizationWindowSeconds', pick(r, 'stabilizationWindowSeconds'));
  setIf(out, 'selectPolicy', pick(r, 'selectPolicy'));
  const pols = pick(r, 'policies');
  if (Array.isArray(pols))
    out.policies = pols.map((p: any) => ({
      type: pick(p, 'type'),
      value: pick(p, 'value'),
      periodSeconds: pick(p, 'periodSeconds'),
    }));
  setIf(out, 'tolerance', pick(r, 'tolerance'));
  return out;
}

function parseJSON(s: unknown): any {
  if (typeof s !== 'string') return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** autoscaling/v2 (storage) -> autoscaling/v1. */
export function hpaV2ToV1(obj: KObject): KObject {
  const src: any = clone(obj);
  const spec = src.spec ?? {};
  const status = src.status ?? {};
  const out: any = {
    ...src,
    apiVersion: 'autoscaling/v1',
    kind: 'HorizontalPodAutoscaler',
    metadata: { ...(src.metadata ?? {}) },
  };
  const outSpec: any = { scaleTargetRef: spec.scaleTargetRef ?? { kind: '', name: '' } };
  setIf(outSpec, 'minReplicas', spec.minReplicas);
  outSpec.maxReplicas = spec.maxReplicas ?? 0;
  const metrics: any[] = spec.metrics ?? [];
  const cpu = metrics.find((m) => m?.type === 'Resource' && m.resource?.name === 'cpu');
  if (cpu && isSet(cpu.resource?.target?.averageUtilization))
    outSpec.targetCPUUtilizationPercentage = cpu.resource.target.averageUtilization;
  out.spec = outSpec;

  const outStatus: any = {};
  setIf(outStatus, 'observedGeneration', status.observedGeneration);
  setIf(outStatus, 'lastScaleTime', status.lastScaleTime);
  outStatus.currentReplicas = status.currentReplicas ?? 0;
  outStatus.desiredReplicas = status.desiredReplicas ?? 0;
  for (const m of status.currentMetrics ?? []) {
    if (m?.type === 'Resource' && m.resource?.name === 'cpu' && isSet(m.resource?.current?.averageUtilization)) {
      outStatus.currentCPUUtilizationPercentage = m.resource.current.averageUtilization;
    }
  }
  out.status = outStatus;

  const others = metrics.filter((m) => !isCpuUtilization(m)).map((m) => metricToV1(m, 'target'));
  const annotations: Record<string, string> = { ...(out.metadata.annotations ?? {}) };
  if (others.length > 0) annotations[METRIC_SPECS_ANNOTATION] = JSON.stringify(others);
  if ((status.currentMetrics ?? []).length > 0)
    annotations[METRIC_STATUSES_ANNOTATION] = JSON.stringify(
      status.currentMetrics.map((m: unknown) => metricToV1(m, 'current')),
    );
  if (isObject(spec.behavior)) {
    annotations[BEHAVIOR_ANNOTATION] = JSON.stringify({
      ScaleUp: rulesToGo(spec.behavior.scaleUp),
      ScaleDown: rulesToGo(spec.behavior.scaleDown),
    });
  }
  if ((status.conditions ?? []).length > 0) annotations[CONDITIONS_ANNOTATION] = JSON.stringify(status.conditions);
  if (Object.keys(annotations).length > 0) out.metadata.annotations = annotations;
  return out;
}

/** autoscaling/v1 -> autoscaling/v2 (storage). */
export function hpaV1ToV2(obj: KObject): KObject {
  const src: any = clone(obj);
  const spec = src.spec ?? {};
  const status = src.status ?? {};
  const out: any = {
    ...src,
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { ...(src.metadata ?? {}) },
  };
  const annotations: Record<string, string> = { ...(out.metadata.annotations ?? {}) };

  const outSpec: any = { scaleTargetRef: spec.scaleTargetRef };
  setIf(outSpec, 'minReplicas', spec.minReplicas);
  setIf(outSpec, 'maxReplicas', spec.maxReplicas);
  let metrics: any[] = [];
  if (isSet(spec.targetCPUUtilizationPercentage)) {
    metrics = [
      {
        type: 'Resource',
        resource: {
          name: 'cpu',
          target: { type: 'Utilization', averageUtilization: spec.targetCPUUtilizationPercentage },
        },
      },
    ];
  }
  const others = parseJSON(annotations[METRIC_SPECS_ANNOTATION]);
  if (Array.isArray(others)) metrics = [...others.map(metricSpecFromV1), ...metrics];
  const behavior = parseJSON(annotations[BEHAVIOR_ANNOTATION]);
  if (isObject(behavior)) {
    const b: any = {};
    const up = rulesFromGo(pick(behavior, 'scaleUp'));
    const down = rulesFromGo(pick(behavior, 'scaleDown'));
    if (up) b.scaleUp = up;
    if (down) b.scaleDown = down;
    if (Object.keys(b).length > 0) outSpec.behavior = b;
  }
  if (metrics.length === 0) {
    metrics = [
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } },
      },
    ];
  }
  outSpec.metrics = metrics;
  out.spec = outSpec;

  if (isObject(src.status)) {
    const outStatus: any = {};
    setIf(outStatus, 'observedGeneration', status.observedGeneration);
    setIf(outStatus, 'lastScaleTime', status.lastScaleTime);
    setIf(outStatus, 'currentReplicas', status.currentReplicas);
    outStatus.desiredReplicas = status.desiredReplicas ?? 0;
    if (isSet(status.currentCPUUtilizationPercentage)) {
      outStatus.currentMetrics = [
        {
          type: 'Resource',
          resource: { name: 'cpu', current: { averageUtilization: status.currentCPUUtilizationPercentage } },
        },
      ];
    }
    const current = parseJSON(annotations[METRIC_STATUSES_ANNOTATION]);
    if (Array.isArray(current)) outStatus.currentMetrics = current.map(metricStatusFromV1);
    const conditions = parseJSON(annotations[CONDITIONS_ANNOTATION]);
    if (Array.isArray(conditions)) outStatus.conditions = conditions;
    out.status = outStatus;
  }

  for (const k of ROUND_TRIP_ANNOTATIONS) delete annotations[k];
  if (Object.keys(annotations).length > 0) out.metadata.annotations = annotations;
  else delete out.metadata.annotations;
  return out;
}

export const horizontalPodAutoscalerResource: ResourceDef = {
  group: 'autoscaling',
  versions: [
    { name: 'v2' },
    { name: 'v1', toStorage: hpaV1ToV2, fromStorage: hpaV2ToV1, table: horizontalPodAutoscalerV1Columns },
  ],
  storageVersion: 'v2',
  kind: 'HorizontalPodAutoscaler',
  plural: 'horizontalpodautoscalers',
  singular: 'horizontalpodautoscaler',
  shortNames: ['hpa'],
  categories: ['all'],
  namespaced: true,
  subresources: { status: true },
  generationTracksSpec: true,
  defaults: defaultHPA,
  prepareForCreate: clearStatus,
  validate: (obj) => validateHPASpec(obj.spec, path('spec')),
  table: horizontalPodAutoscalerColumns,
};
