// core/v1 Endpoints: port protocol default, subset validation.
import type { Endpoints } from 'kubernetes-types/core/v1.js';
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
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidIP,
  isValidPortNum,
} from '../../../machinery/validation.js';
import { endpointsColumns } from './tables.js';
import { SUPPORTED_PROTOCOLS } from './podspec.js';

export function defaultEndpoints(ep: Endpoints): void {
  for (const ss of (ep as any).subsets ?? []) for (const p of ss.ports ?? []) if (!p.protocol) p.protocol = 'TCP';
}

/** ValidateNonSpecialIP: no unspecified, loopback or link-local addresses. */
export function validateNonSpecialIP(ip: string, p: FieldPath): FieldError[] {
  if (isValidIP(ip).length) return [invalid(p, ip, 'must be a valid IP address')];
  const errs: FieldError[] = [];
  const v6 = ip.includes(':');
  const lower = ip.toLowerCase();
  if (ip === '0.0.0.0' || /^[0:]+$/.test(lower)) errs.push(invalid(p, ip, `may not be unspecified (${ip})`));
  if (/^127\./.test(ip) || (v6 && /^(0*:)*:?0*1$/.test(lower) && lower !== '1'))
    errs.push(invalid(p, ip, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
  if (/^169\.254\./.test(ip) || /^fe[89ab][0-9a-f]?:/.test(lower))
    errs.push(invalid(p, ip, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
  if (/^224\.0\.0\./.test(ip) || /^ff02:/.test(lower))
    errs.push(invalid(p, ip, 'may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)'));
  return errs;
}

function validateAddress(a: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const ipMsgs = isValidIP(a.ip ?? '');
  errs.push(...ipMsgs.map((m) => invalid(p.child('ip'), a.ip ?? '', m)));
  if (a.hostname) errs.push(...isDNS1123Label(a.hostname).map((m) => invalid(p.child('hostname'), a.hostname, m)));
  if (a.nodeName) errs.push(...isDNS1123Subdomain(a.nodeName).map((m) => invalid(p.child('nodeName'), a.nodeName, m)));
  if (!ipMsgs.length) errs.push(...validateNonSpecialIP(a.ip, p.child('ip')));
  return errs;
}

export function validateEndpoints(ep: Endpoints): FieldError[] {
  const errs: FieldError[] = [];
  ((ep as any).subsets ?? []).forEach((ss: any, i: number) => {
    const sp = path('subsets').index(i);
    if (!ss.addresses?.length && !ss.notReadyAddresses?.length) {
      errs.push(required(sp, 'must specify `addresses` or `notReadyAddresses`'));
    }
    (ss.addresses ?? []).forEach((a: any, j: number) =>
      errs.push(...validateAddress(a, sp.child('addresses').index(j))),
    );
    (ss.notReadyAddresses ?? []).forEach((a: any, j: number) =>
      errs.push(...validateAddress(a, sp.child('notReadyAddresses').index(j))),
    );
    const ports: any[] = ss.ports ?? [];
    ports.forEach((port, j) => {
      const pp = sp.child('ports').index(j);
      if (ports.length > 1 && !port.name) errs.push(required(pp.child('name')));
      else if (port.name) errs.push(...isDNS1123Label(port.name).map((m) => invalid(pp.child('name'), port.name, m)));
      errs.push(...isValidPortNum(port.port ?? 0).map((m) => invalid(pp.child('port'), port.port ?? 0, m)));
      if (!port.protocol) errs.push(required(pp.child('protocol')));
      else if (!SUPPORTED_PROTOCOLS.includes(port.protocol))
        errs.push(notSupported(pp.child('protocol'), port.protocol, SUPPORTED_PROTOCOLS));
      if (port.appProtocol)
        errs.push(
          ...isQualifiedName(port.appProtocol).map((m) => invalid(pp.child('appProtocol'), port.appProtocol, m)),
        );
    });
  });
  return errs;
}

export const endpoints: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'Endpoints',
  listKind: 'EndpointsList',
  plural: 'endpoints',
  singular: 'endpoints',
  shortNames: ['ep'],
  namespaced: true,
  nameRule: 'dns1123-subdomain',
  generationTracksSpec: false,
  table: endpointsColumns,
  defaults: defaultEndpoints,
  validate: (obj: any) => validateEndpoints(obj),
};
