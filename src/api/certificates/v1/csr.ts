// certificates.k8s.io/v1 CertificateSigningRequest (cluster-scoped), with upstream's three write
// paths: the object itself (spec fixed after create, status untouched), status (the signer's
// certificate and conditions other than Approved/Denied) and approval (Approved/Denied only).
import type {
  CertificateSigningRequest,
  CertificateSigningRequestCondition,
} from 'kubernetes-types/certificates/v1.js';
import type { ResourceDef, StrategyContext } from '../../types.js';
import {
  type FieldError,
  duplicate,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import { isDNS1123Subdomain } from '../../../machinery/validation.js';
import { decodeRequestField, parseCertificateRequest } from './request.js';
import { csrColumns } from './tables.js';
import { validateCertificateChain } from './certificate.js';

export const KUBE_APISERVER_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client';
export const KUBELET_CLIENT_SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
export const KUBELET_SERVING_SIGNER = 'kubernetes.io/kubelet-serving';
export const LEGACY_UNKNOWN_SIGNER = 'kubernetes.io/legacy-unknown';

export const KEY_USAGES = [
  'any',
  'cert sign',
  'client auth',
  'code signing',
  'content commitment',
  'crl sign',
  'data encipherment',
  'decipher only',
  'digital signature',
  'email protection',
  'encipher only',
  'ipsec end system',
  'ipsec tunnel',
  'ipsec user',
  'key agreement',
  'key encipherment',
  'microsoft sgc',
  'netscape sgc',
  'ocsp signing',
  's/mime',
  'server auth',
  'signing',
  'timestamping',
] as const;

/** Conditions that may only be True when present. */
const TRUE_ONLY = new Set(['Approved', 'Denied', 'Failed']);
const APPROVAL_TYPES = ['Approved', 'Denied'] as const;

type Csr = CertificateSigningRequest & { metadata: NonNullable<CertificateSigningRequest['metadata']> };

const conditionsOf = (csr: CertificateSigningRequest, type: string): CertificateSigningRequestCondition[] =>
  (csr.status?.conditions ?? []).filter((c) => c.type === type);

export const hasCondition = (csr: CertificateSigningRequest, type: string): boolean =>
  conditionsOf(csr, type).length > 0;

/** upstream ValidateSignerName: `<DNS subdomain>/<path>`. */
function validateSignerName(value: unknown): FieldError[] {
  const p = path('spec', 'signerName');
  if (typeof value !== 'string' || !value) return [required(p)];
  const slash = value.indexOf('/');
  if (slash < 0 || slash === value.length - 1)
    return [invalid(p, value, "must be a fully qualified domain and path of the form 'example.com/signer-name'")];
  const domain = value.slice(0, slash);
  const errs = isDNS1123Subdomain(domain).map((m) => invalid(p, value, `validating the domain part: ${m}`));
  if (!errs.length && !domain.includes('.'))
    errs.push(invalid(p, value, 'should be a domain with at least two segments separated by dots'));
  return errs;
}

function validateConditions(csr: Csr, allowBoth: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const p = path('status', 'conditions');
  const seen = new Set<string>();
  let approved = false;
  let denied = false;
  (csr.status?.conditions ?? []).forEach((c, i) => {
    if (!c.type) errs.push(required(p.index(i).child('type')));
    const allowed = TRUE_ONLY.has(c.type) ? ['True'] : ['False', 'True', 'Unknown'];
    if (!c.status) errs.push(required(p.index(i).child('status')));
    else if (!allowed.includes(c.status)) errs.push(notSupported(p.index(i).child('status'), c.status, allowed));
    if (!allowBoth) {
      if (c.type === 'Approved') approved = true;
      if (c.type === 'Denied') denied = true;
      if ((c.type === 'Approved' && denied) || (c.type === 'Denied' && approved))
        errs.push(invalid(p.index(i).child('type'), c.type, 'Approved and Denied conditions are mutually exclusive'));
    }
    if (seen.has(c.type)) errs.push(duplicate(p.index(i).child('type'), c.type));
    seen.add(c.type);
  });
  return errs;
}

function validateCsrObject(csr: Csr, old?: Csr): FieldError[] {
  const errs: FieldError[] = [];
  const spec = csr.spec ?? ({} as Csr['spec']);
  const sp = path('spec');
  try {
    parseCertificateRequest(decodeRequestField(spec.request));
  } catch (err) {
    errs.push(invalid(sp.child('request'), spec.request ?? '', (err as Error).message));
  }
  const usages = spec.usages ?? [];
  if (!usages.length) errs.push(required(sp.child('usages')));
  const tolerateUsages = old && (old.spec.usages ?? []).some((u) => !(KEY_USAGES as readonly string[]).includes(u));
  if (!tolerateUsages) {
    const seen = new Set<string>();
    usages.forEach((u, i) => {
      if (!(KEY_USAGES as readonly string[]).includes(u))
        errs.push(notSupported(sp.child('usages').index(i), u, KEY_USAGES));
      else if (seen.has(u)) errs.push(duplicate(sp.child('usages').index(i), u));
      seen.add(u);
    });
  }
  if (spec.signerName === LEGACY_UNKNOWN_SIGNER && old?.spec.signerName !== LEGACY_UNKNOWN_SIGNER)
    errs.push(
      invalid(sp.child('signerName'), spec.signerName, 'the legacy signerName is not allowed via this API version'),
    );
  else errs.push(...validateSignerName(spec.signerName));
  if (typeof spec.expirationSeconds === 'number' && spec.expirationSeconds < 600)
    errs.push(
      invalid(
        sp.child('expirationSeconds'),
        spec.expirationSeconds,
        'may not specify a duration less than 600 seconds (10 minutes)',
      ),
    );
  const bothBefore = !!old && hasCondition(old, 'Approved') && hasCondition(old, 'Denied');
  errs.push(...validateConditions(csr, bothBefore));
  const cert = csr.status?.certificate;
  if (cert && cert !== old?.status?.certificate) {
    const problem = validateCertificateChain(Buffer.from(cert, 'base64').toString('latin1'));
    if (problem) errs.push(invalid(path('status', 'certificate'), '<certificate data>', problem));
  }
  return errs;
}

export function validateCsr(obj: Csr): FieldError[] {
  return validateCsrObject(obj);
}

/** upstream validateCertificateSigningRequestUpdate, with the write path's allowances. */
export function validateCsrUpdate(obj: Csr, old: Csr, ctx: StrategyContext): FieldError[] {
  const errs = validateCsrObject(obj, old);
  const cp = path('status', 'conditions');
  for (const t of ['Approved', 'Denied', 'Failed'])
    if (conditionsOf(obj, t).length < conditionsOf(old, t).length)
      errs.push(forbidden(cp, `updates may not remove a condition of type ${JSON.stringify(t)}`));
  if (ctx.subresource !== 'approval') {
    for (const t of APPROVAL_TYPES) {
      const before = conditionsOf(old, t);
      const after = conditionsOf(obj, t);
      if (after.length > before.length)
        errs.push(forbidden(cp, `updates may not add a condition of type ${JSON.stringify(t)}`));
      else if (after.length === before.length && JSON.stringify(after) !== JSON.stringify(before))
        errs.push(forbidden(cp, `updates may not modify a condition of type ${JSON.stringify(t)}`));
    }
  }
  const certBefore = old.status?.certificate ?? '';
  const certAfter = obj.status?.certificate ?? '';
  if (certAfter !== certBefore) {
    if (ctx.subresource !== 'status')
      errs.push(forbidden(path('status', 'certificate'), 'updates may not set certificate content'));
    else if (certBefore)
      errs.push(forbidden(path('status', 'certificate'), 'updates may not modify existing certificate content'));
  }
  return errs;
}

/** Condition status defaults to True (upstream v1 SetDefaults_CertificateSigningRequestCondition). */
export function defaultCsr(obj: Csr): void {
  for (const c of obj.status?.conditions ?? []) if (!c.status) c.status = 'True';
}

/** upstream populateConditionTimestamps: lastUpdateTime now if unset, lastTransitionTime kept while the status is. */
function stampConditions(obj: Csr, old?: Csr): void {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  for (const c of obj.status?.conditions ?? []) {
    c.lastUpdateTime ||= now;
    if (!c.lastTransitionTime) {
      const before = old && conditionsOf(old, c.type).find((o) => o.status === c.status);
      c.lastTransitionTime = before?.lastTransitionTime || c.lastUpdateTime;
    }
  }
}

/** Who asked is filled in by admission (CertificateSigningRequest requester); status starts empty. */
export function prepareCsrForCreate(obj: Csr): void {
  obj.status = {};
}

export function prepareCsrForUpdate(obj: Csr, old: Csr, ctx: StrategyContext): void {
  obj.spec = old.spec;
  if (ctx.subresource === 'status') {
    // A status write keeps the approval conditions as they are (or fails validation trying to change them).
    const keeps = APPROVAL_TYPES.every(
      (t) =>
        JSON.stringify(conditionsOf(obj, t).map((c) => c.status)) ===
        JSON.stringify(conditionsOf(old, t).map((c) => c.status)),
    );
    if (!keeps) obj.status = { ...obj.status, conditions: old.status?.conditions };
  } else if (ctx.subresource === 'approval') {
    obj.status = { ...obj.status, certificate: old.status?.certificate };
    if (!obj.status.certificate) delete obj.status.certificate;
  } else {
    obj.status = old.status;
  }
  stampConditions(obj, old);
}

export const certificateSigningRequests: ResourceDef = {
  group: 'certificates.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'CertificateSigningRequest',
  plural: 'certificatesigningrequests',
  singular: 'certificatesigningrequest',
  shortNames: ['csr'],
  namespaced: false,
  nameRule: 'path-segment',
  subresources: { status: true, object: ['approval'], writesStatus: ['approval'] },
  defaults: defaultCsr,
  validate: validateCsr,
  validateUpdate: validateCsrUpdate,
  prepareForCreate: prepareCsrForCreate,
  prepareForUpdate: prepareCsrForUpdate,
  table: csrColumns,
  fieldSelectors: { 'spec.signerName': (o: CertificateSigningRequest) => o.spec?.signerName },
};
