// networking.k8s.io/v1 Ingress.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import {
  isDNS1035Label,
  isDNS1123Subdomain,
  isValidIP,
  isValidPortName,
  isValidPortNum,
  regexError,
} from '../../../machinery/validation.js';
import { ingressColumns } from './tables.js';
import { clearStatus, isObject } from '../../apps/v1/workload.js';

const WILDCARD_FMT = '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const WILDCARD_RE = new RegExp(`^${WILDCARD_FMT}$`);

/** Upstream IsWildcardDNS1123Subdomain. */
export function isWildcardDNS1123Subdomain(v: string): string[] {
  const errs: string[] = [];
  if (v.length > 253) errs.push('must be no more than 253 characters');
  if (!WILDCARD_RE.test(v)) {
    errs.push(
      regexError(
        "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character",
        WILDCARD_FMT,
        '*.example.com',
      ),
    );
  }
  return errs;
}

/** A host of a rule or TLS entry: a DNS name (optionally `*.`-prefixed), never an IP. */
export function validateIngressHost(host: string, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (isValidIP(host).length === 0) errs.push(invalid(p, host, 'must be a DNS name, not an IP address'));
  const msgs = host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host);
  for (const m of msgs) errs.push(invalid(p, host, m));
  return errs;
}

export function validateIngressBackend(b: any, p: FieldPath): FieldError[] {
  const hasService = isObject(b?.service);
  const hasResource = isObject(b?.resource);
  if (hasService && hasResource) return [invalid(p, '', 'cannot set both resource and service backends')];
  if (!hasService && !hasResource) return [invalid(p, '', 'resource or service backend is required')];
  const errs: FieldError[] = [];
  if (hasResource) {
    const r = b.resource;
    const rp = p.child('resource');
    if (typeof r.apiGroup === 'string' && r.apiGroup.length > 0) {
      for (const m of isDNS1123Subdomain(r.apiGroup)) errs.push(invalid(rp.child('apiGroup'), r.apiGroup, m));
    }
    if (!r.kind) errs.push(required(rp.child('kind')));
    if (!r.name) errs.push(required(rp.child('name')));
    return errs;
  }
  const s = b.service;
  const sp = p.child('service');
  if (!s.name) errs.push(required(sp.child('name')));
  else for (const m of isDNS1035Label(s.name)) errs.push(invalid(sp.child('name'), s.name, m));
  const port = s.port ?? {};
  const hasName = typeof port.name === 'string' && port.name.length > 0;
  const hasNumber = port.number !== undefined && port.number !== null && port.number !== 0;
  if (hasName && hasNumber) errs.push(invalid(sp.child('port'), port, 'cannot set both port name & port number'));
  else if (hasName)
    for (const m of isValidPortName(port.name)) errs.push(invalid(sp.child('port', 'name'), port.name, m));
  else if (hasNumber)
    for (const m of isValidPortNum(port.number)) errs.push(invalid(sp.child('port', 'number'), port.number, m));
  else errs.push(required(sp.child('port'), 'port name or number is required'));
  return errs;
}

const PATH_TYPES = ['Exact', 'ImplementationSpecific', 'Prefix'];
const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];

function validateHTTPIngressPath(hp: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const pt = hp?.pathType;
  const ip: string = hp?.path ?? '';
  if (!pt) {
    errs.push(required(p.child('pathType'), 'pathType must be specified'));
  } else if (pt === 'Exact' || pt === 'Prefix') {
    if (!ip.startsWith('/')) errs.push(invalid(p.child('path'), ip, 'must be an absolute path'));
    if (ip.length > 0) {
      for (const seq of INVALID_PATH_SEQUENCES)
        if (ip.includes(seq)) errs.push(invalid(p.child('path'), ip, `must not contain '${seq}'`));
      for (const suf of INVALID_PATH_SUFFIXES)
        if (ip.endsWith(suf)) errs.push(invalid(p.child('path'), ip, `cannot end with '${suf}'`));
    }
  } else if (pt === 'ImplementationSpecific') {
    if (ip.length > 0 && !ip.startsWith('/')) errs.push(invalid(p.child('path'), ip, 'must be an absolute path'));
  } else {
    errs.push(notSupported(p.child('pathType'), pt, PATH_TYPES));
  }
  errs.push(...validateIngressBackend(hp?.backend, p.child('backend')));
  return errs;
}

export function validateIngressSpec(spec: any, p: FieldPath): FieldError[] {
  if (!isObject(spec)) return [invalid(p.child('rules'), null, 'either `defaultBackend` or `rules` must be specified')];
  const errs: FieldError[] = [];
  const rules: any[] = spec.rules ?? [];
  if (rules.length === 0 && !isObject(spec.defaultBackend)) {
    errs.push(invalid(p, spec.rules ?? null, 'either `defaultBackend` or `rules` must be specified'));
  }
  if (isObject(spec.defaultBackend))
    errs.push(...validateIngressBackend(spec.defaultBackend, p.child('defaultBackend')));
  rules.forEach((rule, i) => {
    const rp = p.child('rules').index(i);
    if (typeof rule?.host === 'string' && rule.host.length > 0)
      errs.push(...validateIngressHost(rule.host, rp.child('host')));
    if (isObject(rule?.http)) {
      const paths: any[] = rule.http.paths ?? [];
      if (paths.length === 0) errs.push(required(rp.child('http', 'paths')));
      paths.forEach((hp, j) => errs.push(...validateHTTPIngressPath(hp, rp.child('http', 'paths').index(j))));
    }
  });
  (spec.tls ?? []).forEach((tls: any, i: number) => {
    (tls?.hosts ?? []).forEach((h: string, j: number) => {
      const hp = p.child('tls').index(i).child('hosts').index(j);
      const msgs =
        typeof h === 'string' && h.includes('*') ? isWildcardDNS1123Subdomain(h) : isDNS1123Subdomain(String(h));
      for (const m of msgs) errs.push(invalid(hp, h, m));
    });
  });
  if (typeof spec.ingressClassName === 'string') {
    for (const m of isDNS1123Subdomain(spec.ingressClassName))
      errs.push(invalid(p.child('ingressClassName'), spec.ingressClassName, m));
  }
  return errs;
}

export const ANNOTATION_INGRESS_CLASS = 'kubernetes.io/ingress.class';

export function validateIngress(obj: any): FieldError[] {
  const errs = validateIngressSpec(obj.spec, path('spec'));
  const ann = obj.metadata?.annotations?.[ANNOTATION_INGRESS_CLASS];
  if (ann !== undefined && typeof obj.spec?.ingressClassName === 'string' && obj.spec.ingressClassName.length > 0) {
    errs.push(
      invalid(
        path('annotations').child(ANNOTATION_INGRESS_CLASS),
        ann,
        'can not be set when the class field is also set',
      ),
    );
  }
  return errs;
}

export const ingressResource: ResourceDef = {
  group: 'networking.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'Ingress',
  plural: 'ingresses',
  singular: 'ingress',
  shortNames: ['ing'],
  namespaced: true,
  subresources: { status: true },
  generationTracksSpec: true,
  prepareForCreate: clearStatus,
  validate: validateIngress,
  table: ingressColumns,
};
