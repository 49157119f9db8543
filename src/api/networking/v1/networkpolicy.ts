// networking.k8s.io/v1 NetworkPolicy.
import ipaddr from 'ipaddr.js';
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
import { isValidCIDR, isValidPortName, isValidPortNum, validateLabelSelector } from '../../../machinery/validation.js';
import { networkPolicyColumns } from './tables.js';
import { ensure, isObject } from '../../apps/v1/workload.js';

const PROTOCOLS = ['TCP', 'UDP', 'SCTP'];
const POLICY_TYPES = ['Ingress', 'Egress'];

export function defaultNetworkPolicy(obj: any): void {
  const spec = ensure(obj, 'spec');
  ensure(spec, 'podSelector');
  for (const dir of ['ingress', 'egress']) {
    for (const rule of spec[dir] ?? []) {
      for (const port of rule?.ports ?? []) if (isObject(port) && !port.protocol) port.protocol = 'TCP';
    }
  }
  if (!Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0) {
    const types = ['Ingress'];
    if (Array.isArray(spec.egress) && spec.egress.length > 0) types.push('Egress');
    spec.policyTypes = types;
  }
}

function validatePort(port: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (port?.protocol !== undefined && port?.protocol !== null && !PROTOCOLS.includes(port.protocol)) {
    errs.push(notSupported(p.child('protocol'), port.protocol, PROTOCOLS));
  }
  const pt = port?.port;
  const end = port?.endPort;
  if (pt !== undefined && pt !== null) {
    if (typeof pt === 'number') {
      for (const m of isValidPortNum(pt)) errs.push(invalid(p.child('port'), pt, m));
      if (end !== undefined && end !== null) {
        if (end < pt) errs.push(invalid(p.child('endPort'), pt, 'must be greater than or equal to `port`'));
        for (const m of isValidPortNum(end)) errs.push(invalid(p.child('endPort'), end, m));
      }
    } else {
      if (end !== undefined && end !== null)
        errs.push(invalid(p.child('endPort'), end, 'may not be specified when `port` is non-numeric'));
      for (const m of isValidPortName(String(pt))) errs.push(invalid(p.child('port'), pt, m));
    }
  } else if (end !== undefined && end !== null) {
    errs.push(invalid(p.child('endPort'), end, 'may not be specified when `port` is not specified'));
  }
  return errs;
}

function validateIPBlock(ipb: any, p: FieldPath): FieldError[] {
  const cidr = ipb?.cidr;
  if (!cidr) return [required(p.child('cidr'))];
  const errs: FieldError[] = isValidCIDR(cidr).map((m) => invalid(p.child('cidr'), cidr, m));
  if (errs.length > 0) return errs;
  let outer: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    outer = ipaddr.parseCIDR(cidr);
  } catch {
    return errs;
  }
  (ipb.except ?? []).forEach((ex: string, i: number) => {
    const ep = p.child('except').index(i);
    const msgs = isValidCIDR(ex);
    if (msgs.length > 0) {
      for (const m of msgs) errs.push(invalid(ep, ex, m));
      return;
    }
    let inner: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
      inner = ipaddr.parseCIDR(ex);
    } catch {
      return;
    }
    let contained: boolean;
    try {
      contained = inner[0].kind() === outer[0].kind() && (inner[0] as any).match(outer[0], outer[1]);
    } catch {
      contained = false;
    }
    if (!contained || outer[1] >= inner[1]) errs.push(invalid(ep, ex, 'must be a strict subset of `cidr`'));
  });
  return errs;
}

function validatePeer(peer: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  if (isObject(peer?.podSelector)) {
    n++;
    errs.push(...validateLabelSelector(peer.podSelector, p.child('podSelector')));
  }
  if (isObject(peer?.namespaceSelector)) {
    n++;
    errs.push(...validateLabelSelector(peer.namespaceSelector, p.child('namespaceSelector')));
  }
  if (isObject(peer?.ipBlock)) {
    n++;
    errs.push(...validateIPBlock(peer.ipBlock, p.child('ipBlock')));
  }
  if (n === 0) errs.push(required(p, 'must specify a peer'));
  else if (n > 1 && isObject(peer?.ipBlock)) errs.push(forbidden(p, 'may not specify both ipBlock and another peer'));
  return errs;
}

export function validateNetworkPolicySpec(spec: any, p: FieldPath): FieldError[] {
  if (!isObject(spec)) return [required(p)];
  const errs: FieldError[] = [];
  errs.push(...validateLabelSelector(spec.podSelector, p.child('podSelector')));
  for (const [dir, peers] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ]) {
    (spec[dir] ?? []).forEach((rule: any, i: number) => {
      const rp = p.child(dir).index(i);
      (rule?.ports ?? []).forEach((port: any, j: number) =>
        errs.push(...validatePort(port, rp.child('ports').index(j))),
      );
      (rule?.[peers] ?? []).forEach((peer: any, j: number) =>
        errs.push(...validatePeer(peer, rp.child(peers).index(j))),
      );
    });
  }
  const types: unknown[] = spec.policyTypes ?? [];
  if (types.length > POLICY_TYPES.length) {
    errs.push(invalid(p.child('policyTypes'), types, 'may not specify more than two policyTypes'));
    return errs;
  }
  types.forEach((t, i) => {
    if (!POLICY_TYPES.includes(t as string)) errs.push(notSupported(p.child('policyTypes').index(i), t, POLICY_TYPES));
  });
  return errs;
}

export const networkPolicyResource: ResourceDef = {
  group: 'networking.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'NetworkPolicy',
  plural: 'networkpolicies',
  singular: 'networkpolicy',
  shortNames: ['netpol'],
  namespaced: true,
  generationTracksSpec: true,
  defaults: defaultNetworkPolicy,
  validate: (obj) => validateNetworkPolicySpec(obj.spec, path('spec')),
  table: networkPolicyColumns,
};
