// discovery.k8s.io/v1 EndpointSlice.
import type { ResourceDef } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  duplicate,
  invalid,
  notSupported,
  path,
  required,
  tooMany,
} from '../../../machinery/fielderrors.js';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isValidIPv4Address,
  isValidIPv6Address,
  isValidPortNum,
  validateLabels,
} from '../../../machinery/validation.js';
import { endpointSliceColumns } from './tables.js';
import { immutable, isObject } from '../../apps/v1/workload.js';

const ADDRESS_TYPES = ['IPv4', 'IPv6', 'FQDN'];
const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const MAX_ENDPOINTS = 1000;
const MAX_ADDRESSES = 100;
const MAX_PORTS = 20000;
const MAX_HINTS = 8;

export function defaultEndpointSlice(obj: any): void {
  for (const port of obj.ports ?? []) {
    if (!isObject(port)) continue;
    if (port.name === undefined || port.name === null) port.name = '';
    if (!port.protocol) port.protocol = 'TCP';
  }
}

function validateAddress(addressType: string, a: unknown, p: FieldPath): FieldError[] {
  const s = String(a);
  switch (addressType) {
    case 'IPv4':
      return isValidIPv4Address(s).map((m) => invalid(p, a, m));
    case 'IPv6':
      return isValidIPv6Address(s).map((m) => invalid(p, a, m));
    case 'FQDN':
      return isDNS1123Subdomain(s).map((m) => invalid(p, a, m));
    default:
      return [];
  }
}

export function validateEndpointSlice(obj: any): FieldError[] {
  const errs: FieldError[] = [];
  const at = obj.addressType;
  if (!at) errs.push(required(path('addressType')));
  else if (!ADDRESS_TYPES.includes(at)) errs.push(notSupported(path('addressType'), at, ADDRESS_TYPES));
  const endpoints: any[] = obj.endpoints ?? [];
  const ep = path('endpoints');
  if (endpoints.length > MAX_ENDPOINTS) {
    errs.push(tooMany(ep, endpoints.length, MAX_ENDPOINTS));
  } else {
    endpoints.forEach((e, i) => {
      const p = ep.index(i);
      const addrs: unknown[] = e?.addresses ?? [];
      if (addrs.length === 0) errs.push(required(p.child('addresses'), 'must contain at least 1 address'));
      else if (addrs.length > MAX_ADDRESSES) errs.push(tooMany(p.child('addresses'), addrs.length, MAX_ADDRESSES));
      addrs.forEach((a, j) => errs.push(...validateAddress(at, a, p.child('addresses').index(j))));
      if (typeof e?.hostname === 'string')
        for (const m of isDNS1123Label(e.hostname)) errs.push(invalid(p.child('hostname'), e.hostname, m));
      if (typeof e?.nodeName === 'string')
        for (const m of isDNS1123Subdomain(e.nodeName)) errs.push(invalid(p.child('nodeName'), e.nodeName, m));
      errs.push(...validateLabels(e?.deprecatedTopology, p.child('deprecatedTopology')));
      const zones: any[] = e?.hints?.forZones ?? [];
      if (zones.length > MAX_HINTS) errs.push(tooMany(p.child('hints', 'forZones'), zones.length, MAX_HINTS));
      const seen = new Set<string>();
      zones.forEach((z, j) => {
        const zp = p.child('hints', 'forZones').index(j).child('name');
        if (seen.has(z?.name)) errs.push(duplicate(zp, z?.name));
        seen.add(z?.name);
      });
    });
  }
  const ports: any[] = obj.ports ?? [];
  const pp = path('ports');
  if (ports.length > MAX_PORTS) {
    errs.push(tooMany(pp, ports.length, MAX_PORTS));
  } else {
    const names = new Set<string>();
    ports.forEach((port, i) => {
      const p = pp.index(i);
      const name: string = port?.name ?? '';
      if (name.length > 0) for (const m of isDNS1123Label(name)) errs.push(invalid(p.child('name'), name, m));
      if (names.has(name)) errs.push(duplicate(p.child('name'), name));
      names.add(name);
      if (!port?.protocol) errs.push(required(p.child('protocol')));
      else if (!PROTOCOLS.includes(port.protocol))
        errs.push(notSupported(p.child('protocol'), port.protocol, PROTOCOLS));
      if (port?.port !== undefined && port?.port !== null) {
        for (const m of isValidPortNum(port.port)) errs.push(invalid(p.child('port'), port.port, m));
      }
      if (typeof port?.appProtocol === 'string' && port.appProtocol.length > 0) {
        // Qualified-name rules, as a Service port's appProtocol.
        if (
          !/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(
            port.appProtocol,
          )
        ) {
          errs.push(
            invalid(
              p.child('appProtocol'),
              port.appProtocol,
              "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
            ),
          );
        }
      }
    });
  }
  return errs;
}

export const endpointSliceResource: ResourceDef = {
  group: 'discovery.k8s.io',
  versions: [{ name: 'v1' }],
  kind: 'EndpointSlice',
  plural: 'endpointslices',
  singular: 'endpointslice',
  namespaced: true,
  generationTracksSpec: true,
  defaults: defaultEndpointSlice,
  validate: validateEndpointSlice,
  validateUpdate: (obj, old) => immutable(obj.addressType, old.addressType, path('addressType')),
  table: endpointSliceColumns,
};
