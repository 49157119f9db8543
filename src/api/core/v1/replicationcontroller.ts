// core/v1 ReplicationController: selector and labels defaulted from the template, replicas 1,
// template validation for RCs, the scale subresource.
import type { ReplicationController } from 'kubernetes-types/core/v1.js';
import type { ResourceDef, StrategyContext } from '../../types.js';
import { type FieldError, forbidden, invalid, notSupported, path, required } from '../../../machinery/fielderrors.js';
import { validateNonnegative } from '../../../machinery/validation.js';
import { replicationControllerColumns } from './tables.js';
import { defaultPodTemplateSpec, validatePodTemplateSpec } from './podspec.js';

export function defaultReplicationController(rc: ReplicationController): void {
  const r = rc as any;
  r.spec ??= {};
  const labels = r.spec.template?.metadata?.labels;
  if (labels && Object.keys(labels).length) {
    if (!r.spec.selector || Object.keys(r.spec.selector).length === 0) r.spec.selector = { ...labels };
    r.metadata ??= {};
    if (!r.metadata.labels || Object.keys(r.metadata.labels).length === 0) r.metadata.labels = { ...labels };
  }
  if (r.spec.replicas === undefined || r.spec.replicas === null) r.spec.replicas = 1;
  if (r.spec.template) defaultPodTemplateSpec(r.spec.template);
}

export const selectorString = (sel: Record<string, string> | undefined) =>
  Object.keys(sel ?? {})
    .sort()
    .map((k) => `${k}=${sel![k]}`)
    .join(',');

export function validateReplicationControllerSpec(spec: any): FieldError[] {
  const sp = path('spec');
  const errs: FieldError[] = [];
  errs.push(...validateNonnegative(spec?.minReadySeconds ?? 0, sp.child('minReadySeconds')));
  const selector: Record<string, string> = spec?.selector ?? {};
  if (Object.keys(selector).length === 0) errs.push(required(sp.child('selector')));
  errs.push(...validateNonnegative(spec?.replicas ?? 0, sp.child('replicas')));
  const tp = sp.child('template');
  const tpl = spec?.template;
  if (!tpl) {
    errs.push(required(tp));
    return errs;
  }
  const labels: Record<string, string> = tpl.metadata?.labels ?? {};
  if (Object.keys(selector).length && !Object.entries(selector).every(([k, v]) => labels[k] === v)) {
    errs.push(invalid(tp.child('metadata', 'labels'), labels, '`selector` does not match template `labels`'));
  }
  errs.push(...validatePodTemplateSpec(tpl, tp));
  if (tpl.spec?.restartPolicy !== 'Always') {
    errs.push(notSupported(tp.child('spec', 'restartPolicy'), tpl.spec?.restartPolicy ?? '', ['Always']));
  }
  if (tpl.spec?.activeDeadlineSeconds !== undefined && tpl.spec?.activeDeadlineSeconds !== null) {
    errs.push(
      forbidden(
        tp.child('spec', 'activeDeadlineSeconds'),
        'activeDeadlineSeconds in ReplicationController is not Supported',
      ),
    );
  }
  return errs;
}

export function validateReplicationControllerStatus(status: any): FieldError[] {
  const st = path('status');
  const s = status ?? {};
  const errs: FieldError[] = [];
  for (const f of ['replicas', 'fullyLabeledReplicas', 'readyReplicas', 'availableReplicas', 'observedGeneration']) {
    errs.push(...validateNonnegative(s[f] ?? 0, st.child(f)));
  }
  const msg = 'cannot be greater than status.replicas';
  const replicas = s.replicas ?? 0;
  if ((s.fullyLabeledReplicas ?? 0) > replicas)
    errs.push(invalid(st.child('fullyLabeledReplicas'), s.fullyLabeledReplicas, msg));
  if ((s.readyReplicas ?? 0) > replicas) errs.push(invalid(st.child('readyReplicas'), s.readyReplicas, msg));
  if ((s.availableReplicas ?? 0) > replicas)
    errs.push(invalid(st.child('availableReplicas'), s.availableReplicas, msg));
  if ((s.availableReplicas ?? 0) > (s.readyReplicas ?? 0))
    errs.push(invalid(st.child('availableReplicas'), s.availableReplicas, 'cannot be greater than readyReplicas'));
  return errs;
}

export const replicationControllers: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'ReplicationController',
  plural: 'replicationcontrollers',
  singular: 'replicationcontroller',
  shortNames: ['rc'],
  categories: ['all'],
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  subresources: {
    status: true,
    scale: {
      specReplicasPath: '.spec.replicas',
      statusReplicasPath: '.status.replicas',
      selector: (obj: any) => selectorString(obj.spec?.selector),
    },
  },
  generationTracksSpec: true,
  table: replicationControllerColumns,
  defaults: defaultReplicationController,
  prepareForCreate(obj: any) {
    obj.status = { replicas: 0 };
  },
  prepareForUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') obj.spec = old.spec;
    else if (!ctx.subresource || ctx.subresource === 'scale') obj.status = old.status;
  },
  validate(obj: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') return validateReplicationControllerStatus(obj.status);
    return validateReplicationControllerSpec(obj.spec);
  },
  fieldSelectors: {
    'status.replicas': (o) => String(o.status?.replicas ?? 0),
  },
};
