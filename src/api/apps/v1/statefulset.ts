// apps/v1 StatefulSet.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { isDNS1035Label, validateNonnegative } from '../../../machinery/validation.js';
import { statefulSetColumns } from './tables.js';
import {
  clearStatus,
  deepEqual,
  defaultTemplate,
  ensure,
  intOrPercentValue,
  isNotMoreThan100Percent,
  isObject,
  scaleSelector,
  validateAlwaysRestartingTemplate,
  validatePositiveIntOrPercent,
  validateSelectorAndTemplate,
} from './workload.js';

export function defaultStatefulSet(obj: any): void {
  const spec = ensure(obj, 'spec');
  if (!spec.podManagementPolicy) spec.podManagementPolicy = 'OrderedReady';
  const us = ensure(spec, 'updateStrategy');
  if (!us.type) {
    us.type = 'RollingUpdate';
    if (!isObject(us.rollingUpdate)) us.rollingUpdate = {};
  }
  if (
    us.type === 'RollingUpdate' &&
    isObject(us.rollingUpdate) &&
    (us.rollingUpdate.partition === undefined || us.rollingUpdate.partition === null)
  ) {
    us.rollingUpdate.partition = 0;
  }
  const retention = ensure(spec, 'persistentVolumeClaimRetentionPolicy');
  if (!retention.whenDeleted) retention.whenDeleted = 'Retain';
  if (!retention.whenScaled) retention.whenScaled = 'Retain';
  if (spec.replicas === undefined || spec.replicas === null) spec.replicas = 1;
  if (spec.revisionHistoryLimit === undefined || spec.revisionHistoryLimit === null) spec.revisionHistoryLimit = 10;
  defaultTemplate(spec);
  if (Array.isArray(spec.volumeClaimTemplates)) {
    for (const pvc of spec.volumeClaimTemplates) {
      if (!isObject(pvc)) continue;
      const s = ensure(pvc, 'spec');
      if (!s.volumeMode) s.volumeMode = 'Filesystem';
      const st = ensure(pvc, 'status');
      if (!st.phase) st.phase = 'Pending';
    }
  }
}

const RETENTION = ['Retain', 'Delete'];

export function validateStatefulSetSpec(spec: any, p: FieldPath): FieldError[] {
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  switch (spec.podManagementPolicy) {
    case undefined:
    case '':
      errs.push(required(p.child('podManagementPolicy')));
      break;
    case 'OrderedReady':
    case 'Parallel':
      break;
    default:
      errs.push(
        invalid(p.child('podManagementPolicy'), spec.podManagementPolicy, "must be 'OrderedReady' or 'Parallel'"),
      );
  }
  const us = spec.updateStrategy ?? {};
  const usp = p.child('updateStrategy');
  switch (us.type) {
    case undefined:
    case '':
      errs.push(required(usp));
      break;
    case 'OnDelete':
      if (us.rollingUpdate != null)
        errs.push(
          invalid(usp.child('rollingUpdate'), us.rollingUpdate, "only allowed for updateStrategy 'RollingUpdate'"),
        );
      break;
    case 'RollingUpdate':
      if (isObject(us.rollingUpdate)) {
        const rp = usp.child('rollingUpdate');
        errs.push(...validateNonnegative(us.rollingUpdate.partition, rp.child('partition')));
        const mu = us.rollingUpdate.maxUnavailable;
        if (mu !== undefined && mu !== null) {
          errs.push(...validatePositiveIntOrPercent(mu, rp.child('maxUnavailable')));
          if (intOrPercentValue(mu) === 0) errs.push(invalid(rp.child('maxUnavailable'), mu, 'cannot be 0'));
          errs.push(...isNotMoreThan100Percent(mu, rp.child('maxUnavailable')));
        }
      }
      break;
    default:
      errs.push(invalid(usp, us, "must be 'RollingUpdate' or 'OnDelete'"));
  }
  const retention = spec.persistentVolumeClaimRetentionPolicy;
  if (isObject(retention)) {
    const rp = p.child('persistentVolumeClaimRetentionPolicy');
    for (const k of ['whenDeleted', 'whenScaled']) {
      if (!RETENTION.includes(retention[k])) errs.push(notSupported(rp.child(k), retention[k] ?? '', RETENTION));
    }
  }
  if (typeof spec.serviceName === 'string' && spec.serviceName.length > 0) {
    for (const m of isDNS1035Label(spec.serviceName)) errs.push(invalid(p.child('serviceName'), spec.serviceName, m));
  }
  if (isObject(spec.ordinals)) errs.push(...validateNonnegative(spec.ordinals.start, p.child('ordinals', 'start')));
  errs.push(...validateNonnegative(spec.replicas, p.child('replicas')));
  errs.push(...validateNonnegative(spec.minReadySeconds, p.child('minReadySeconds')));
  errs.push(...validateNonnegative(spec.revisionHistoryLimit, p.child('revisionHistoryLimit')));
  errs.push(...validateSelectorAndTemplate(spec, p, 'statefulset'));
  errs.push(
    ...validateAlwaysRestartingTemplate(withClaimVolumes(spec), p.child('template'), (fp, v) =>
      invalid(fp, v, 'must not be specified'),
    ),
  );
  if (Array.isArray(spec.volumeClaimTemplates)) {
    spec.volumeClaimTemplates.forEach((pvc: any, i: number) => {
      if (!pvc?.metadata?.name)
        errs.push(
          required(
            p.child('volumeClaimTemplates').index(i).child('metadata', 'name'),
            'name or generateName is required',
          ),
        );
    });
  }
  return errs;
}

/**
 * The template as its pods will be: each volumeClaimTemplate becomes a volume, so container
 * volumeMounts may name one (upstream does not check template volumes of StatefulSets at all).
 */
function withClaimVolumes(spec: any): any {
  const tpl = spec?.template;
  const claims = Array.isArray(spec?.volumeClaimTemplates) ? spec.volumeClaimTemplates : [];
  if (!tpl || typeof tpl !== 'object' || !claims.length) return tpl;
  const volumes = [...(tpl.spec?.volumes ?? [])];
  for (const c of claims) {
    const name = c?.metadata?.name;
    if (typeof name === 'string' && !volumes.some((v: any) => v?.name === name))
      volumes.push({ name, persistentVolumeClaim: { claimName: name } });
  }
  return { ...tpl, spec: { ...(tpl.spec ?? {}), volumes } };
}

const MUTABLE_SPEC_FIELDS = [
  'replicas',
  'ordinals',
  'template',
  'updateStrategy',
  'persistentVolumeClaimRetentionPolicy',
  'minReadySeconds',
];

export function validateStatefulSetUpdate(obj: any, old: any): FieldError[] {
  const strip = (spec: any) => {
    const s = { ...(spec ?? {}) };
    for (const k of MUTABLE_SPEC_FIELDS) delete s[k];
    return s;
  };
  if (deepEqual(strip(obj.spec), strip(old.spec))) return [];
  return [
    forbidden(
      path('spec'),
      "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    ),
  ];
}

export const statefulSetResource: ResourceDef = {
  group: 'apps',
  versions: [{ name: 'v1' }],
  kind: 'StatefulSet',
  plural: 'statefulsets',
  singular: 'statefulset',
  shortNames: ['sts'],
  categories: ['all'],
  namespaced: true,
  subresources: {
    status: true,
    scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', selector: scaleSelector },
  },
  generationTracksSpec: true,
  defaults: defaultStatefulSet,
  prepareForCreate: clearStatus,
  validate: (obj) => validateStatefulSetSpec(obj.spec, path('spec')),
  validateUpdate: validateStatefulSetUpdate,
  table: statefulSetColumns,
};
