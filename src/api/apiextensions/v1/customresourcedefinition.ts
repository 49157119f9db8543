// apiextensions.k8s.io/v1 CustomResourceDefinition (cluster-scoped). Stored and validated here;
// turning one into a served resource is done elsewhere from its spec.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
  tooLong,
} from '../../../machinery/fielderrors.js';
import { isDNS1035Label, isDNS1123Subdomain } from '../../../machinery/validation.js';
import { customResourceDefinitionColumns } from './tables.js';
import { clone, ensure, immutable, isObject } from '../../apps/v1/workload.js';
import {
  validateWebhookService,
  validateWebhookURL,
} from '../../admissionregistration/v1/validatingwebhookconfiguration.js';
import { validatePrinterColumns, validateStructuralSchema } from '../../../machinery/crdschema/structural.js';
import { rfc3339 } from '../../../machinery/time.js';
import { schemaRuleErrors } from '../../../cel/schemarules.js';

/** Held by every CRD until the server has deleted all of its custom objects. */
export const CRD_CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

const SCOPES = ['Cluster', 'Namespaced'];
const CONVERSION_STRATEGIES = ['None', 'Webhook'];
const CONVERSION_REVIEW_VERSIONS = ['v1', 'v1beta1'];
const isSet = (v: unknown): boolean => v !== undefined && v !== null;

/** SetDefaults_CustomResourceDefinition(Spec) and SetDefaults_ServiceReference. */
export function defaultCRD(obj: any): void {
  const spec = ensure(obj, 'spec');
  const names = ensure(spec, 'names');
  if (!names.singular && typeof names.kind === 'string') names.singular = names.kind.toLowerCase();
  if (!names.listKind && names.kind) names.listKind = `${names.kind}List`;
  if (!isObject(spec.conversion)) spec.conversion = { strategy: 'None' };
  const svc = spec.conversion.webhook?.clientConfig?.service;
  if (isObject(svc) && !isSet(svc.port)) svc.port = 443;
}

function dns1035(v: unknown, p: FieldPath, prefix = ''): FieldError[] {
  if (typeof v !== 'string' || v.length === 0) return [];
  const msgs = isDNS1035Label(prefix ? v.toLowerCase() : v);
  return msgs.length > 0 ? [invalid(p, v, prefix + msgs.join(','))] : [];
}

export function validateCRDNames(names: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const mixed = 'may have mixed case, but should otherwise match: ';
  errs.push(...dns1035(names?.plural, p.child('plural')));
  errs.push(...dns1035(names?.singular, p.child('singular')));
  errs.push(...dns1035(names?.kind, p.child('kind'), mixed));
  errs.push(...dns1035(names?.listKind, p.child('listKind'), mixed));
  (names?.shortNames ?? []).forEach((s: string, i: number) =>
    errs.push(...dns1035(s || ' ', p.child('shortNames').index(i))),
  );
  if (names?.kind && names.kind === names.listKind)
    errs.push(invalid(p.child('listKind'), names.listKind, 'kind and listKind may not be the same'));
  (names?.categories ?? []).forEach((c: string, i: number) =>
    errs.push(...dns1035(c || ' ', p.child('categories').index(i))),
  );
  return errs;
}

function validateConversion(conv: any, p: FieldPath): FieldError[] {
  if (!isObject(conv)) return [];
  const errs: FieldError[] = [];
  if (!CONVERSION_STRATEGIES.includes(conv.strategy))
    errs.push(notSupported(p.child('strategy'), conv.strategy ?? '', CONVERSION_STRATEGIES));
  const wh = conv.webhook;
  if (conv.strategy === 'Webhook') {
    const wp = p.child('webhook');
    if (!isObject(wh) || !isObject(wh.clientConfig)) {
      errs.push(required(wp.child('clientConfig'), 'required when strategy is set to Webhook'));
    } else {
      const cc = wh.clientConfig;
      if (isSet(cc.url) === isSet(cc.service))
        errs.push(required(wp.child('clientConfig'), 'exactly one of url or service is required'));
      else if (isSet(cc.url)) errs.push(...validateWebhookURL(String(cc.url), wp.child('clientConfig', 'url')));
      else errs.push(...validateWebhookService(cc.service, wp.child('clientConfig', 'service')));
    }
    const versions: string[] = wh?.conversionReviewVersions ?? [];
    const vp = wp.child('conversionReviewVersions');
    if (versions.length === 0) errs.push(required(vp, `must specify one of ${CONVERSION_REVIEW_VERSIONS.join(', ')}`));
    else if (!versions.some((v) => CONVERSION_REVIEW_VERSIONS.includes(v))) {
      errs.push(invalid(vp, versions, `must include at least one of ${CONVERSION_REVIEW_VERSIONS.join(', ')}`));
    }
  } else if (isObject(wh)) {
    if (isSet(wh.clientConfig))
      errs.push(forbidden(p.child('webhook', 'clientConfig'), 'should not be set when strategy is not set to Webhook'));
    if ((wh.conversionReviewVersions ?? []).length > 0) {
      errs.push(
        forbidden(
          p.child('webhook', 'conversionReviewVersions'),
          'should not be set when strategy is not set to Webhook',
        ),
      );
    }
  }
  return errs;
}

function validateVersion(v: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!v?.name) errs.push(required(p.child('name')));
  else {
    const msgs = isDNS1035Label(v.name);
    if (msgs.length > 0) errs.push(invalid(p.child('name'), v.name, msgs.join(',')));
  }
  if (!isObject(v?.schema) || !isObject(v.schema.openAPIV3Schema)) {
    errs.push(required(p.child('schema', 'openAPIV3Schema'), 'schemas are required'));
  } else {
    const s = v.schema.openAPIV3Schema;
    if (s.type !== undefined && s.type !== 'object')
      errs.push(invalid(p.child('schema', 'openAPIV3Schema', 'type'), s.type, 'must be object at the root'));
    const structural = validateStructuralSchema(s, p.child('schema', 'openAPIV3Schema'));
    errs.push(...structural);
    // x-kubernetes-validations must compile (only checked on a structural schema, as upstream).
    if (structural.length === 0) errs.push(...schemaRuleErrors(s, p.child('schema', 'openAPIV3Schema')));
  }
  errs.push(...validatePrinterColumns(v?.additionalPrinterColumns, p.child('additionalPrinterColumns')));
  if (!v?.deprecated && isSet(v?.deprecationWarning)) {
    errs.push(invalid(p.child('deprecationWarning'), v.deprecationWarning, 'can only be set for deprecated versions'));
  }
  if (typeof v?.deprecationWarning === 'string' && v.deprecationWarning.length > 256)
    errs.push(tooLong(p.child('deprecationWarning'), 256));
  const scale = v?.subresources?.scale;
  if (isObject(scale)) {
    const sp = p.child('subresources', 'scale');
    if (!scale.specReplicasPath) errs.push(required(sp.child('specReplicasPath')));
    else if (!scale.specReplicasPath.startsWith('.spec.'))
      errs.push(invalid(sp.child('specReplicasPath'), scale.specReplicasPath, 'should be a json path under .spec'));
    if (!scale.statusReplicasPath) errs.push(required(sp.child('statusReplicasPath')));
    else if (!scale.statusReplicasPath.startsWith('.status.')) {
      errs.push(
        invalid(sp.child('statusReplicasPath'), scale.statusReplicasPath, 'should be a json path under .status'),
      );
    }
    if (
      scale.labelSelectorPath &&
      !(scale.labelSelectorPath.startsWith('.spec.') || scale.labelSelectorPath.startsWith('.status.'))
    ) {
      errs.push(
        invalid(
          sp.child('labelSelectorPath'),
          scale.labelSelectorPath,
          'should be a json path under either .spec or .status',
        ),
      );
    }
  }
  return errs;
}

export function validateCRDSpec(spec: any, p: FieldPath): FieldError[] {
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  const group: string = spec.group ?? '';
  if (group.length === 0) errs.push(required(p.child('group')));
  else {
    const msgs = isDNS1123Subdomain(group);
    if (msgs.length > 0) errs.push(invalid(p.child('group'), group, msgs.join(',')));
    if (group.split('.').length < 2)
      errs.push(invalid(p.child('group'), group, 'should be a domain with at least one dot'));
  }
  if (!spec.scope) errs.push(required(p.child('scope')));
  else if (!SCOPES.includes(spec.scope)) errs.push(notSupported(p.child('scope'), spec.scope, SCOPES));
  const versions: any[] = spec.versions ?? [];
  const vp = p.child('versions');
  let storage = 0;
  const seen = new Set<string>();
  let unique = true;
  versions.forEach((v, i) => {
    if (v?.storage === true) storage++;
    if (seen.has(v?.name)) unique = false;
    seen.add(v?.name);
    errs.push(...validateVersion(v, vp.index(i)));
  });
  if (!unique) errs.push(invalid(vp, versions, 'must contain unique version names'));
  if (storage !== 1) errs.push(invalid(vp, versions, 'must have exactly one version marked as storage version'));
  if (versions.length < 1) errs.push(required(vp, 'must have at least one version'));
  const names = spec.names ?? {};
  const np = p.child('names');
  for (const k of ['plural', 'singular', 'kind', 'listKind']) if (!names[k]) errs.push(required(np.child(k)));
  errs.push(...validateCRDNames(names, np));
  errs.push(...validateConversion(spec.conversion, p.child('conversion')));
  if (spec.preserveUnknownFields === true) {
    errs.push(
      invalid(
        p.child('preserveUnknownFields'),
        true,
        'cannot set to true, set x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead',
      ),
    );
  }
  return errs;
}

export function validateCRD(obj: any): FieldError[] {
  const errs: FieldError[] = [];
  const name: string = obj.metadata?.name ?? '';
  const expected = `${obj.spec?.names?.plural ?? ''}.${obj.spec?.group ?? ''}`;
  if (name !== expected) errs.push(invalid(path('metadata', 'name'), name, 'must be spec.names.plural+"."+spec.group'));
  errs.push(...validateCRDSpec(obj.spec, path('spec')));
  return errs;
}

/** Upstream ValidateCustomResourceDefinitionStoredVersions. */
export function validateStoredVersions(stored: unknown, versions: any[], p: FieldPath): FieldError[] {
  const list: string[] = Array.isArray(stored) ? stored : [];
  if (list.length === 0) return [invalid(p, list, 'must have at least one stored version')];
  const errs: FieldError[] = [];
  const index = new Map(list.map((v, i) => [v, i] as [string, number]));
  for (const v of versions) {
    const ok = index.has(v?.name);
    if (v?.storage && !ok) errs.push(invalid(p, v, `must have the storage version ${v.name}`));
    if (ok) index.delete(v.name);
  }
  for (const [v, i] of index) errs.push(invalid(p.index(i), v, 'must appear in spec.versions'));
  return errs;
}

/** Whether a CRD is Established: its resource is served (the CRD controller serves it before saying so). */
export const isEstablished = (crd: any): boolean =>
  (crd?.status?.conditions ?? []).some((c: any) => c?.type === 'Established' && c?.status === 'True');

export function validateCRDUpdate(obj: any, old: any, subresource?: string): FieldError[] {
  const errs: FieldError[] = [];
  const p = path('spec');
  if (isEstablished(old)) {
    errs.push(...immutable(obj.spec?.scope, old.spec?.scope, p.child('scope')));
    errs.push(...immutable(obj.spec?.names?.kind, old.spec?.names?.kind, p.child('names', 'kind')));
  }
  errs.push(...immutable(obj.spec?.group, old.spec?.group, p.child('group')));
  errs.push(...immutable(obj.spec?.names?.plural, old.spec?.names?.plural, p.child('names', 'plural')));
  if (subresource === 'status')
    errs.push(
      ...validateStoredVersions(obj.status?.storedVersions, obj.spec?.versions ?? [], path('status', 'storedVersions')),
    );
  return errs;
}

/** The storage version joins status.storedVersions as soon as it is used. */
function recordStorageVersion(obj: any): void {
  const v = (obj.spec?.versions ?? []).find((x: any) => x?.storage === true);
  if (!v?.name) return;
  const status = ensure(obj, 'status');
  const stored: string[] = Array.isArray(status.storedVersions) ? status.storedVersions : [];
  if (!stored.includes(v.name)) status.storedVersions = [...stored, v.name];
}

export const customResourceDefinitionResource: ResourceDef = {
  group: 'apiextensions.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'CustomResourceDefinition',
  plural: 'customresourcedefinitions',
  singular: 'customresourcedefinition',
  shortNames: ['crd', 'crds'],
  categories: ['api-extensions'],
  namespaced: false,
  subresources: { status: true },
  generationTracksSpec: true,
  defaults: defaultCRD,
  prepareForCreate(obj) {
    obj.status = {};
    recordStorageVersion(obj);
    const finalizers: string[] = obj.metadata.finalizers ?? [];
    if (!finalizers.includes(CRD_CLEANUP_FINALIZER)) obj.metadata.finalizers = [...finalizers, CRD_CLEANUP_FINALIZER];
  },
  onMarkedForDeletion(obj) {
    // As upstream's CRD registry on the first delete request.
    const status = ensure(obj, 'status');
    const conds: any[] = Array.isArray(status.conditions) ? status.conditions : [];
    if (!conds.some((c) => c?.type === 'Terminating' && c?.status === 'True')) {
      status.conditions = [
        ...conds.filter((c) => c?.type !== 'Terminating'),
        {
          type: 'Terminating',
          status: 'True',
          lastTransitionTime: rfc3339(),
          reason: 'InstanceDeletionPending',
          message: 'CustomResourceDefinition marked for deletion; instance deletion will begin soon',
        },
      ];
    }
  },
  prepareForUpdate(obj, old, ctx) {
    if (ctx?.subresource !== 'status') obj.status = clone(old.status ?? {});
    recordStorageVersion(obj);
  },
  validate: validateCRD,
  validateUpdate: (obj, old, ctx) => validateCRDUpdate(obj, old, ctx?.subresource),
  table: customResourceDefinitionColumns,
};
