// core/v1 PersistentVolume: reclaim policy and volume mode defaults, ValidatePersistentVolumeSpec,
// immutable volume source.
import type { PersistentVolume } from 'kubernetes-types/core/v1.js';
import type { ResourceDef, StrategyContext } from '../../types.js';
import { type FieldError, forbidden, invalid, notSupported, path, required } from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain } from '../../../machinery/validation.js';
import { parseQuantityOrNull } from '../../../machinery/quantity.js';
import { persistentVolumeColumns } from './tables.js';
import { describeDiff, semanticEqual, validateImmutableField, validateResourceQuantityValue } from './helpers.js';
import { rfc3339 } from '../../../machinery/time.js';

export const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
export const VOLUME_MODES = ['Block', 'Filesystem'];
const RECLAIM_POLICIES = ['Delete', 'Recycle', 'Retain'];
export const PV_SOURCES = [
  'hostPath',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'glusterfs',
  'flocker',
  'nfs',
  'rbd',
  'quobyte',
  'cephfs',
  'iscsi',
  'cinder',
  'fc',
  'flexVolume',
  'azureFile',
  'vsphereVolume',
  'photonPersistentDisk',
  'portworxVolume',
  'azureDisk',
  'scaleIO',
  'local',
  'storageos',
  'csi',
];

export function defaultPersistentVolume(pv: PersistentVolume): void {
  const p = pv as any;
  p.spec ??= {};
  p.status ??= {};
  if (!p.status.phase) p.status.phase = 'Pending';
  if (!p.spec.persistentVolumeReclaimPolicy) p.spec.persistentVolumeReclaimPolicy = 'Retain';
  if (!p.spec.volumeMode) p.spec.volumeMode = 'Filesystem';
  if (p.spec.hostPath && p.spec.hostPath.type === undefined) p.spec.hostPath.type = '';
}

/** ValidatePositiveQuantityValue + ValidateResourceQuantityValue, as for storage sizes. */
export function validatePositiveStorage(name: string, v: unknown, p: ReturnType<typeof path>): FieldError[] {
  const errs = validateResourceQuantityValue(name, v, p);
  if (errs.length) return errs;
  const q = parseQuantityOrNull(v);
  if (q && q.sign() <= 0) return [invalid(p, q.toString(), 'must be greater than zero')];
  return [];
}

export function validateAccessModes(
  modes: string[] | undefined,
  p: ReturnType<typeof path>,
  requiredDetail = '',
): FieldError[] {
  const errs: FieldError[] = [];
  const list = modes ?? [];
  if (list.length === 0) errs.push(required(p, requiredDetail));
  let rwop = false;
  let other = false;
  for (const m of list) {
    if (!ACCESS_MODES.includes(m)) errs.push(notSupported(p, m, ACCESS_MODES));
    if (m === 'ReadWriteOncePod') rwop = true;
    else if (ACCESS_MODES.includes(m)) other = true;
  }
  if (rwop && other) errs.push(forbidden(p, 'may not use ReadWriteOncePod with other access modes'));
  return errs;
}

export function validatePersistentVolumeSpec(spec: any): FieldError[] {
  const sp = path('spec');
  const errs = validateAccessModes(spec?.accessModes, sp.child('accessModes'));
  const cap: Record<string, unknown> = spec?.capacity ?? {};
  if (Object.keys(cap).length === 0) errs.push(required(sp.child('capacity')));
  if (!('storage' in cap) || Object.keys(cap).length > 1)
    errs.push(notSupported(sp.child('capacity'), cap, ['storage']));
  for (const [k, v] of Object.entries(cap)) errs.push(...validatePositiveStorage(k, v, sp.child('capacity').key(k)));
  if (spec?.persistentVolumeReclaimPolicy && !RECLAIM_POLICIES.includes(spec.persistentVolumeReclaimPolicy)) {
    errs.push(
      notSupported(sp.child('persistentVolumeReclaimPolicy'), spec.persistentVolumeReclaimPolicy, RECLAIM_POLICIES),
    );
  }
  let hasAffinity = false;
  if (spec?.nodeAffinity) {
    hasAffinity = true;
    if (!spec.nodeAffinity.required)
      errs.push(required(sp.child('nodeAffinity', 'required'), 'must specify required node constraints'));
    else if (!spec.nodeAffinity.required.nodeSelectorTerms?.length) {
      errs.push(
        required(
          sp.child('nodeAffinity', 'required', 'nodeSelectorTerms'),
          'must have at least one node selector term',
        ),
      );
    }
  }
  let n = 0;
  for (const key of PV_SOURCES) {
    const src = spec?.[key];
    if (src === undefined || src === null) continue;
    if (n > 0) {
      errs.push(forbidden(sp.child(key), 'may not specify more than 1 volume type'));
      continue;
    }
    n++;
    const kp = sp.child(key);
    if (key === 'hostPath' && !src.path) errs.push(required(kp.child('path')));
    if (key === 'nfs') {
      if (!src.server) errs.push(required(kp.child('server')));
      if (!src.path) errs.push(required(kp.child('path')));
      else if (!String(src.path).startsWith('/'))
        errs.push(invalid(kp.child('path'), src.path, 'must be an absolute path'));
    }
    if (key === 'local') {
      if (!src.path) errs.push(required(kp.child('path')));
      if (!hasAffinity) errs.push(required(sp.child('nodeAffinity'), 'Local volume requires node affinity'));
    }
    if (key === 'csi') {
      if (!src.driver) errs.push(required(kp.child('driver')));
      if (!src.volumeHandle) errs.push(required(kp.child('volumeHandle')));
    }
  }
  if (n === 0) errs.push(required(sp, 'must specify a volume type'));
  if (
    spec?.hostPath &&
    String(spec.hostPath.path ?? '').replace(/\/+$/, '') === '' &&
    spec.hostPath.path &&
    spec.persistentVolumeReclaimPolicy === 'Recycle'
  ) {
    errs.push(forbidden(sp.child('persistentVolumeReclaimPolicy'), "may not be 'recycle' for a hostPath mount of '/'"));
  }
  if (spec?.storageClassName) {
    errs.push(
      ...isDNS1123Subdomain(spec.storageClassName).map((m) =>
        invalid(sp.child('storageClassName'), spec.storageClassName, m),
      ),
    );
  }
  if (spec?.volumeMode && !VOLUME_MODES.includes(spec.volumeMode))
    errs.push(notSupported(sp.child('volumeMode'), spec.volumeMode, VOLUME_MODES));
  if (spec?.claimRef?.name === '' && spec?.claimRef?.namespace) errs.push(required(sp.child('claimRef', 'name')));
  return errs;
}

const sourceOf = (spec: any) =>
  Object.fromEntries(PV_SOURCES.filter((k) => spec?.[k] !== undefined).map((k) => [k, spec[k]]));

export const persistentVolumes: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'PersistentVolume',
  plural: 'persistentvolumes',
  singular: 'persistentvolume',
  shortNames: ['pv'],
  namespaced: false,
  nameRule: 'dns1123-subdomain',
  subresources: { status: true },
  generationTracksSpec: false,
  table: persistentVolumeColumns,
  defaults: defaultPersistentVolume,
  prepareForCreate(obj: any) {
    obj.status = { phase: 'Pending', lastPhaseTransitionTime: rfc3339() };
  },
  prepareForUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') {
      obj.spec = old.spec;
      obj.status ??= {};
      if (obj.status.phase !== old.status?.phase) obj.status.lastPhaseTransitionTime = rfc3339();
    } else if (!ctx.subresource) {
      obj.status = old.status;
    }
  },
  validate(obj: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') return [];
    return validatePersistentVolumeSpec(obj.spec);
  },
  validateUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource) return [];
    const errs: FieldError[] = [];
    const a = sourceOf(old.spec);
    const b = sourceOf(obj.spec);
    if (old.spec?.csi && !old.spec.csi.controllerExpandSecretRef && b.csi?.controllerExpandSecretRef) {
      b.csi = { ...b.csi };
      delete b.csi.controllerExpandSecretRef;
    }
    if (!semanticEqual(a, b)) {
      errs.push(
        forbidden(
          path('spec', 'persistentvolumesource'),
          `spec.persistentvolumesource is immutable after creation\n${describeDiff(a, b)}`,
        ),
      );
    }
    errs.push(...validateImmutableField(obj.spec?.volumeMode, old.spec?.volumeMode, path('volumeMode')));
    if (old.spec?.nodeAffinity && !semanticEqual(obj.spec?.nodeAffinity, old.spec.nodeAffinity)) {
      errs.push(
        invalid(
          path('nodeAffinity'),
          obj.spec?.nodeAffinity ?? null,
          'field is immutable, except for updating from beta label to GA',
        ),
      );
    }
    return errs;
  },
};
