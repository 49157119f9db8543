// core/v1 Service: SetDefaults_Service, ValidateService/ValidateServiceUpdate, and the service
// registry's allocation of cluster IPs and node ports (through ctx.allocators).
import type { Service } from 'kubernetes-types/core/v1.js';
import type { ResourceDef, StrategyContext } from '../../types.js';
import {
  type FieldError,
  type FieldPath,
  duplicate,
  forbidden,
  invalid,
  notSupported,
  path,
  required,
} from '../../../machinery/fielderrors.js';
import {
  isDNS1123Label,
  isDNS1123Subdomain,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidPortNum,
  validateLabels,
} from '../../../machinery/validation.js';
import { serviceColumns } from './tables.js';
import { SUPPORTED_PROTOCOLS, validatePortNumOrName } from './podspec.js';
import { semanticEqual } from './helpers.js';

type Family = 'IPv4' | 'IPv6';

const familyOfIP = (ip: string): Family => (ip.includes(':') ? 'IPv6' : 'IPv4');
/** The service CIDR(s) configured; "a,b" means dual-stack. */
function clusterFamilies(ctx: StrategyContext): Family[] {
  const cidrs = (ctx.cluster?.serviceCIDR ?? '10.43.0.0/16')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const fams = cidrs.map(familyOfIP);
  return fams.length ? [...new Set(fams)] : ['IPv4'];
}

const isHeadless = (s: any) =>
  Array.isArray(s.spec?.clusterIPs) && s.spec.clusterIPs.length === 1 && s.spec.clusterIPs[0] === 'None';
const needsClusterIP = (s: any) => s.spec?.type !== 'ExternalName';
const needsNodePort = (s: any) =>
  s.spec?.type === 'NodePort' || (s.spec?.type === 'LoadBalancer' && s.spec?.allocateLoadBalancerNodePorts !== false);
const needsHCNodePort = (s: any) => s.spec?.type === 'LoadBalancer' && s.spec?.externalTrafficPolicy === 'Local';
export const externallyAccessible = (s: any) =>
  s.spec?.type === 'LoadBalancer' ||
  s.spec?.type === 'NodePort' ||
  (s.spec?.type === 'ClusterIP' && (s.spec?.externalIPs?.length ?? 0) > 0);

/** SetDefaults_Service. */
export function defaultService(svc: Service): void {
  const s = svc as any;
  s.spec ??= {};
  const spec = s.spec;
  if (!spec.sessionAffinity) spec.sessionAffinity = 'None';
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP' && spec.sessionAffinityConfig?.clientIP?.timeoutSeconds === undefined) {
    spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
  }
  if (!spec.type) spec.type = 'ClusterIP';
  for (const port of spec.ports ?? []) {
    if (!port.protocol) port.protocol = 'TCP';
    if (port.targetPort === undefined || port.targetPort === null || port.targetPort === 0 || port.targetPort === '') {
      port.targetPort = port.port;
    }
  }
  if (externallyAccessible(s) && !spec.externalTrafficPolicy) spec.externalTrafficPolicy = 'Cluster';
  if (!spec.internalTrafficPolicy && ['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type)) {
    spec.internalTrafficPolicy = 'Cluster';
  }
  if (spec.type === 'LoadBalancer') {
    if (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null) {
      spec.allocateLoadBalancerNodePorts = true;
    }
    for (const ing of s.status?.loadBalancer?.ingress ?? []) if (ing.ip && !ing.ipMode) ing.ipMode = 'VIP';
  }
}

const msgs = (p: FieldPath, v: unknown, m: string[]) => m.map((x) => invalid(p, v, x));

function validateServicePort(sp: any, requireName: boolean, names: Set<string>, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (requireName && !sp.name) errs.push(required(p.child('name')));
  else if (sp.name) {
    errs.push(...msgs(p.child('name'), sp.name, isDNS1123Label(sp.name)));
    if (names.has(sp.name)) errs.push(duplicate(p.child('name'), sp.name));
    else names.add(sp.name);
  }
  errs.push(...msgs(p.child('port'), sp.port ?? 0, isValidPortNum(sp.port ?? 0)));
  if (!sp.protocol) errs.push(required(p.child('protocol')));
  else if (!SUPPORTED_PROTOCOLS.includes(sp.protocol))
    errs.push(notSupported(p.child('protocol'), sp.protocol, SUPPORTED_PROTOCOLS));
  errs.push(...validatePortNumOrName(sp.targetPort, p.child('targetPort')));
  if (sp.appProtocol !== undefined && sp.appProtocol !== null) {
    errs.push(...msgs(p.child('appProtocol'), sp.appProtocol, isQualifiedName(sp.appProtocol)));
  }
  return errs;
}

function validateClusterIPsRelatedFields(s: any): FieldError[] {
  const spec = s.spec;
  if (spec.type === 'ExternalName') return [];
  const errs: FieldError[] = [];
  const sp = path('spec');
  const ipsPath = sp.child('clusterIPs');
  const ips: string[] = spec.clusterIPs ?? [];
  if (spec.clusterIP) {
    if (ips.length === 0) errs.push(required(ipsPath));
    else if (ips[0] !== spec.clusterIP) errs.push(invalid(ipsPath, ips, 'first value must match `clusterIP`'));
  } else if (ips.length) {
    errs.push(invalid(ipsPath, ips, 'must be empty when `clusterIP` is not specified'));
  }
  const seen = new Set<string>();
  (spec.ipFamilies ?? []).forEach((f: string, i: number) => {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(notSupported(sp.child('ipFamilies').index(i), f, ['IPv4', 'IPv6']));
    if (seen.has(f)) errs.push(duplicate(sp.child('ipFamilies').index(i), f));
    seen.add(f);
  });
  if (
    spec.ipFamilyPolicy !== undefined &&
    spec.ipFamilyPolicy !== null &&
    !['PreferDualStack', 'RequireDualStack', 'SingleStack'].includes(spec.ipFamilyPolicy)
  ) {
    errs.push(
      notSupported(sp.child('ipFamilyPolicy'), spec.ipFamilyPolicy, [
        'PreferDualStack',
        'RequireDualStack',
        'SingleStack',
      ]),
    );
  }
  let bad = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) {
        bad = true;
        errs.push(invalid(ipsPath, ips, "'None' must be the first and only value"));
      }
      return;
    }
    const m = isValidIP(ip);
    if (m.length) {
      bad = true;
      errs.push(...msgs(ipsPath.index(i), ip, m));
    }
  });
  if (ips.length > 2) errs.push(invalid(ipsPath, ips, 'may only hold up to 2 values'));
  if (bad) return errs;
  if (ips.length > 1 && familyOfIP(ips[0]) === familyOfIP(ips[1])) {
    errs.push(invalid(ipsPath, ips, 'may specify no more than one IP for each IP family'));
  }
  if (!isHeadless(s) && ips.length && spec.ipFamilies?.length) {
    ips.forEach((ip, i) => {
      const f = spec.ipFamilies[i];
      if (f === 'IPv4' && familyOfIP(ip) === 'IPv6')
        errs.push(invalid(ipsPath.index(i), ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (f === 'IPv6' && familyOfIP(ip) !== 'IPv6')
        errs.push(invalid(ipsPath.index(i), ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return errs;
}

/** Checks that depend on the cluster's configured families (done by the allocator upstream). */
function validateFamiliesForCluster(s: any, ctx: StrategyContext | undefined): FieldError[] {
  if (!ctx || s.spec?.type === 'ExternalName') return [];
  const fams = clusterFamilies(ctx);
  const errs: FieldError[] = [];
  const sp = path('spec');
  if (s.spec.ipFamilyPolicy === 'RequireDualStack' && fams.length < 2) {
    errs.push(
      invalid(
        sp.child('ipFamilyPolicy'),
        s.spec.ipFamilyPolicy,
        'this cluster is not configured for dual-stack services',
      ),
    );
  }
  (s.spec.ipFamilies ?? []).forEach((f: Family, i: number) => {
    if ((f === 'IPv4' || f === 'IPv6') && !fams.includes(f))
      errs.push(invalid(sp.child('ipFamilies').index(i), f, 'not configured on this cluster'));
  });
  if (s.spec.ipFamilyPolicy === 'SingleStack' && (s.spec.ipFamilies?.length ?? 0) > 1) {
    errs.push(
      invalid(
        sp.child('ipFamilies'),
        s.spec.ipFamilies,
        "when spec.ipFamilyPolicy is 'SingleStack' only one IP family may be specified",
      ),
    );
  }
  return errs;
}

/** ValidateService (metadata is checked by the API layer). */
export function validateService(svc: Service, ctx?: StrategyContext, beforeAllocation = false): FieldError[] {
  const s = svc as any;
  s.spec ??= {};
  const spec = s.spec;
  const sp = path('spec');
  const errs: FieldError[] = [];
  const ports: any[] = spec.ports ?? [];
  if (ports.length === 0 && !isHeadless(s) && spec.type !== 'ExternalName') errs.push(required(sp.child('ports')));
  switch (spec.type) {
    case 'LoadBalancer':
      if (isHeadless(s))
        errs.push(
          invalid(
            sp.child('clusterIPs').index(0),
            spec.clusterIPs[0],
            "may not be set to 'None' for LoadBalancer services",
          ),
        );
      break;
    case 'NodePort':
      if (isHeadless(s))
        errs.push(
          invalid(
            sp.child('clusterIPs').index(0),
            spec.clusterIPs[0],
            "may not be set to 'None' for NodePort services",
          ),
        );
      break;
    case 'ExternalName': {
      if (spec.clusterIPs?.length)
        errs.push(forbidden(sp.child('clusterIPs'), 'may not be set for ExternalName services'));
      if (spec.ipFamilies?.length)
        errs.push(forbidden(sp.child('ipFamilies'), 'may not be set for ExternalName services'));
      if (spec.ipFamilyPolicy)
        errs.push(forbidden(sp.child('ipFamilyPolicy'), 'may not be set for ExternalName services'));
      const cname = String(spec.externalName ?? '').replace(/\.$/, '');
      if (cname) errs.push(...msgs(sp.child('externalName'), cname, isDNS1123Subdomain(cname)));
      else errs.push(required(sp.child('externalName')));
      break;
    }
  }
  const names = new Set<string>();
  ports.forEach((port, i) =>
    errs.push(...validateServicePort(port, ports.length > 1, names, sp.child('ports').index(i))),
  );
  if (spec.selector) errs.push(...validateLabels(spec.selector, sp.child('selector')));

  if (!spec.sessionAffinity) errs.push(required(sp.child('sessionAffinity')));
  else if (!['ClientIP', 'None'].includes(spec.sessionAffinity))
    errs.push(notSupported(sp.child('sessionAffinity'), spec.sessionAffinity, ['ClientIP', 'None']));
  if (spec.sessionAffinity === 'ClientIP') {
    const cp = sp.child('sessionAffinityConfig');
    const why = 'when session affinity type is ClientIP';
    const cfg = spec.sessionAffinityConfig;
    if (!cfg) errs.push(required(cp, why));
    else if (!cfg.clientIP) errs.push(required(cp.child('clientIP'), why));
    else if (cfg.clientIP.timeoutSeconds === undefined || cfg.clientIP.timeoutSeconds === null)
      errs.push(required(cp.child('clientIP', 'timeoutSeconds'), why));
    else if (!(cfg.clientIP.timeoutSeconds > 0 && cfg.clientIP.timeoutSeconds <= 86400)) {
      errs.push(
        invalid(
          cp.child('clientIP', 'timeoutSeconds'),
          cfg.clientIP.timeoutSeconds,
          'must be greater than 0 and less than 86400',
        ),
      );
    }
  } else if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig) {
    errs.push(forbidden(sp.child('sessionAffinityConfig'), 'must not be set when session affinity is None'));
  }

  errs.push(...validateClusterIPsRelatedFields(s));
  errs.push(...validateFamiliesForCluster(s, ctx));

  (spec.externalIPs ?? []).forEach((ip: string, i: number) => {
    const p = sp.child('externalIPs').index(i);
    const m = isValidIP(ip);
    if (m.length) errs.push(...msgs(p, ip, m));
    else if (ip === '0.0.0.0' || ip === '::') errs.push(invalid(p, ip, `may not be unspecified (${ip})`));
    else if (/^127\./.test(ip) || ip === '::1')
      errs.push(invalid(p, ip, 'may not be in the loopback range (127.0.0.0/8, ::1/128)'));
    else if (/^169\.254\./.test(ip) || /^fe[89ab]/i.test(ip))
      errs.push(invalid(p, ip, 'may not be in the link-local range (169.254.0.0/16, fe80::/10)'));
  });

  const TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
  if (!spec.type) errs.push(required(sp.child('type')));
  else if (!TYPES.includes(spec.type)) errs.push(notSupported(sp.child('type'), spec.type, TYPES));

  if (spec.type === 'ClusterIP') {
    ports.forEach((port, i) => {
      if (port.nodePort)
        errs.push(
          forbidden(sp.child('ports').index(i).child('nodePort'), "may not be used when `type` is 'ClusterIP'"),
        );
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((port, i) => {
    if (!port.nodePort) return;
    const key = `${port.protocol}/${port.nodePort}`;
    if (nodePorts.has(key)) errs.push(duplicate(sp.child('ports').index(i).child('nodePort'), port.nodePort));
    nodePorts.add(key);
  });
  const seenPorts = new Set<string>();
  ports.forEach((port, i) => {
    const key = `${port.protocol}/${port.port}`;
    if (seenPorts.has(key))
      errs.push(duplicate(sp.child('ports').index(i), { port: port.port, protocol: port.protocol }));
    seenPorts.add(key);
  });

  if (spec.loadBalancerSourceRanges?.length) {
    const fp = sp.child('LoadBalancerSourceRanges');
    if (spec.type !== 'LoadBalancer') errs.push(forbidden(fp, "may only be used when `type` is 'LoadBalancer'"));
    spec.loadBalancerSourceRanges.forEach((v: string, i: number) =>
      errs.push(...msgs(fp.index(i), v.trim(), isValidCIDR(v.trim()))),
    );
  }
  if (
    spec.allocateLoadBalancerNodePorts !== undefined &&
    spec.allocateLoadBalancerNodePorts !== null &&
    spec.type !== 'LoadBalancer'
  ) {
    errs.push(forbidden(sp.child('allocateLoadBalancerNodePorts'), "may only be used when `type` is 'LoadBalancer'"));
  }
  if (
    spec.type === 'LoadBalancer' &&
    (spec.allocateLoadBalancerNodePorts === undefined || spec.allocateLoadBalancerNodePorts === null)
  ) {
    errs.push(required(path('allocateLoadBalancerNodePorts')));
  }
  if (spec.type === 'LoadBalancer') {
    if (spec.loadBalancerClass)
      errs.push(
        ...msgs(sp.child('loadBalancerClass'), spec.loadBalancerClass, isQualifiedName(spec.loadBalancerClass)),
      );
  } else if (spec.loadBalancerClass) {
    errs.push(forbidden(sp.child('loadBalancerClass'), "may only be used when `type` is 'LoadBalancer'"));
  }

  // External traffic policy.
  if (!externallyAccessible(s)) {
    if (spec.externalTrafficPolicy)
      errs.push(
        invalid(
          sp.child('externalTrafficPolicy'),
          spec.externalTrafficPolicy,
          'may only be set for externally-accessible services',
        ),
      );
  } else if (!spec.externalTrafficPolicy) {
    errs.push(required(sp.child('externalTrafficPolicy')));
  } else if (!['Cluster', 'Local'].includes(spec.externalTrafficPolicy)) {
    errs.push(notSupported(sp.child('externalTrafficPolicy'), spec.externalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (!needsHCNodePort(s)) {
    if (spec.healthCheckNodePort) {
      errs.push(
        invalid(
          sp.child('healthCheckNodePort'),
          spec.healthCheckNodePort,
          "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ),
      );
    }
  } else if (spec.healthCheckNodePort) {
    errs.push(
      ...msgs(sp.child('healthCheckNodePort'), spec.healthCheckNodePort, isValidPortNum(spec.healthCheckNodePort)),
    );
  } else if (!beforeAllocation) {
    // The allocator fills it in.
    errs.push(required(sp.child('healthCheckNodePort')));
  }
  if (!spec.internalTrafficPolicy) {
    if (['NodePort', 'LoadBalancer', 'ClusterIP'].includes(spec.type))
      errs.push(required(sp.child('internalTrafficPolicy')));
  } else if (!['Cluster', 'Local'].includes(spec.internalTrafficPolicy)) {
    errs.push(notSupported(sp.child('internalTrafficPolicy'), spec.internalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (
    spec.trafficDistribution !== undefined &&
    spec.trafficDistribution !== null &&
    !['PreferClose', 'PreferSameZone', 'PreferSameNode'].includes(spec.trafficDistribution)
  ) {
    errs.push(
      notSupported(sp.child('trafficDistribution'), spec.trafficDistribution, [
        'PreferClose',
        'PreferSameNode',
        'PreferSameZone',
      ]),
    );
  }
  return errs;
}

/** ValidateServiceUpdate's own rules (it then runs ValidateService). */
export function validateServiceUpdate(svc: Service, old: Service): FieldError[] {
  const s = svc as any;
  const o = old as any;
  const errs: FieldError[] = [];
  const ipsPath = path('spec', 'clusterIPs');
  const famPath = path('spec', 'ipFamilies');
  const extName = s.spec?.type === 'ExternalName' || o.spec?.type === 'ExternalName';
  if (!extName && !(isHeadless(o) && isHeadless(s))) {
    const oi: string[] = o.spec?.clusterIPs ?? [];
    const ni: string[] = s.spec?.clusterIPs ?? [];
    if (oi.length === ni.length) {
      oi.forEach((ip, i) => {
        if (ip !== ni[i]) errs.push(invalid(ipsPath.index(i), ni, 'may not change once set'));
      });
    } else if (oi.length > ni.length) {
      if (ni.length === 0) errs.push(invalid(ipsPath.index(0), ni, 'primary clusterIP can not be unset'));
      if (oi.length && ni.length && ni[0] !== oi[0])
        errs.push(invalid(ipsPath.index(0), ni, 'may not change once set'));
      if (ni.length === 1 && s.spec?.ipFamilyPolicy !== 'SingleStack') {
        errs.push(
          invalid(
            path('spec', 'ipFamilyPolicy'),
            s.spec?.ipFamilyPolicy ?? null,
            "must be set to 'SingleStack' when releasing the secondary clusterIP",
          ),
        );
      }
    } else if (oi.length && ni[0] !== oi[0]) {
      errs.push(invalid(ipsPath.index(0), ni, 'may not change once set'));
    }
  }
  if (!extName && isHeadless(o) === isHeadless(s) && !isHeadless(s)) {
    const of: string[] = o.spec?.ipFamilies ?? [];
    const nf: string[] = s.spec?.ipFamilies ?? [];
    if (of.length === nf.length) {
      if (of.some((f, i) => f !== nf[i])) errs.push(invalid(famPath.index(0), nf, 'may not change once set'));
    } else if (of.length > nf.length) {
      if ((s.spec?.clusterIPs ?? []).length === 0)
        errs.push(invalid(famPath.index(0), nf, 'primary ipFamily can not be unset'));
      if (nf.length && nf[0] !== of[0])
        errs.push(invalid(famPath.index(0), s.spec?.clusterIPs ?? [], 'may not change once set'));
      if (nf.length === 1 && s.spec?.ipFamilyPolicy !== 'SingleStack') {
        errs.push(
          invalid(
            path('spec', 'ipFamilyPolicy'),
            s.spec?.ipFamilyPolicy ?? null,
            "must be set to 'SingleStack' when releasing the secondary ipFamily",
          ),
        );
      }
    } else if (of.length && nf.length && nf[0] !== of[0]) {
      errs.push(invalid(famPath.index(0), s.spec?.clusterIPs ?? [], 'may not change once set'));
    }
  }
  if (
    o.spec?.type === 'LoadBalancer' &&
    s.spec?.type === 'LoadBalancer' &&
    (o.spec?.loadBalancerClass ?? null) !== (s.spec?.loadBalancerClass ?? null)
  ) {
    errs.push(invalid(path('spec', 'loadBalancerClass'), s.spec?.loadBalancerClass ?? null, 'may not change once set'));
  }
  if (
    needsHCNodePort(o) &&
    needsHCNodePort(s) &&
    (o.spec?.healthCheckNodePort ?? 0) !== (s.spec?.healthCheckNodePort ?? 0)
  ) {
    errs.push(forbidden(path('spec', 'healthCheckNodePort'), 'field is immutable'));
  }
  return errs;
}

// ---------------------------------------------------------------------------------------------
// Allocation

interface Txn {
  ips: string[];
  ports: number[];
}

function rollback(ctx: StrategyContext, txn: Txn): void {
  for (const ip of txn.ips) ctx.allocators.releaseClusterIP(ip);
  for (const p of txn.ports) ctx.allocators.releaseNodePort(p);
}

function initFamilies(s: any, ctx: StrategyContext, old?: any): void {
  const spec = s.spec;
  if (!needsClusterIP(s)) return;
  if (old && needsClusterIP(old) && !isHeadless(s) === !isHeadless(old)) {
    if (!spec.ipFamilyPolicy && old.spec.ipFamilyPolicy) spec.ipFamilyPolicy = old.spec.ipFamilyPolicy;
    if (!spec.ipFamilies?.length && old.spec.ipFamilies?.length) spec.ipFamilies = [...old.spec.ipFamilies];
  }
  const fams = clusterFamilies(ctx);
  if (!spec.ipFamilyPolicy) spec.ipFamilyPolicy = 'SingleStack';
  if (!spec.ipFamilies?.length) {
    const ips: string[] = (spec.clusterIPs ?? []).filter((ip: string) => ip && ip !== 'None');
    const out: Family[] = ips.map(familyOfIP);
    if (out.length === 0) out.push(fams[0]);
    if (spec.ipFamilyPolicy !== 'SingleStack' && out.length < 2) {
      const other = fams.find((f) => !out.includes(f));
      if (other) out.push(other);
    }
    spec.ipFamilies = out;
  } else if (spec.ipFamilyPolicy !== 'SingleStack' && spec.ipFamilies.length < 2) {
    const other = fams.find((f) => !spec.ipFamilies.includes(f));
    if (other) spec.ipFamilies = [...spec.ipFamilies, other];
  }
}
function allocateClusterIPs(s: any, ctx: StrategyContext, txn: Txn, old?: any): void {
  const spec = s.spec;
  if (!needsClusterIP(s) || isHeadless(s)) return;
  const have: string[] = old && needsClusterIP(old) ? (old.spec.clusterIPs ?? []) : [];
  const wanted: string[] = [...(spec.clusterIPs ?? [])];
  const fams: Family[] = spec.ipFamilies ?? ['IPv4'];
  const out: string[] = [];
  for (let i = 0; i < fams.length; i++) {
    const req = wanted[i] || undefined;
    if (req && have.includes(req)) {
      out.push(req);
      continue;
    }
    const ip = ctx.allocators.clusterIP(req, fams[i], `spec.clusterIPs[${i}]`);
    txn.ips.push(ip);
    out.push(ip);
  }
  spec.clusterIPs = out;
  spec.clusterIP = out[0];
}

function allocateNodePorts(s: any, ctx: StrategyContext, txn: Txn, old?: any): void {
  const spec = s.spec;
  const have = new Set<number>(old ? nodePortsOf(old) : []);
  const thisRequest = new Map<number, number>();
  const all = needsNodePort(s);
  (spec.ports ?? []).forEach((port: any, i: number) => {
    if (!all && !port.nodePort) return;
    if (port.nodePort && (have.has(port.nodePort) || thisRequest.has(port.nodePort))) return;
    const n = ctx.allocators.nodePort(port.nodePort || undefined, `spec.ports[${i}].nodePort`);
    txn.ports.push(n);
    thisRequest.set(n, i);
    port.nodePort = n;
  });
  if (needsHCNodePort(s)) {
    const hc = spec.healthCheckNodePort;
    if (!(hc && (have.has(hc) || old?.spec?.healthCheckNodePort === hc))) {
      const n = ctx.allocators.nodePort(hc || undefined, 'spec.healthCheckNodePort');
      txn.ports.push(n);
      spec.healthCheckNodePort = n;
    }
  }
}

function nodePortsOf(s: any): number[] {
  const out = (s.spec?.ports ?? []).map((p: any) => p.nodePort).filter((n: unknown) => typeof n === 'number' && n > 0);
  if (s.spec?.healthCheckNodePort) out.push(s.spec.healthCheckNodePort);
  return out;
}

function clusterIPsOf(s: any): string[] {
  const ips: string[] = s.spec?.clusterIPs?.length ? s.spec.clusterIPs : s.spec?.clusterIP ? [s.spec.clusterIP] : [];
  return ips.filter((ip) => ip && ip !== 'None');
}

function sameNodePorts(a: any, b: any): boolean {
  const pa: any[] = a.spec?.ports ?? [];
  const pb: any[] = b.spec?.ports ?? [];
  return pa.length === pb.length && pa.every((p, i) => (p.nodePort ?? 0) === (pb[i].nodePort ?? 0));
}

/** Fill in allocated values the client left out (patchAllocatedValues). */
function patchAllocatedValues(s: any, old: any): void {
  if (needsClusterIP(old) && needsClusterIP(s)) {
    if (!s.spec.clusterIP) s.spec.clusterIP = old.spec.clusterIP;
    if (!s.spec.clusterIPs?.length || !s.spec.clusterIPs[0]) s.spec.clusterIPs = old.spec.clusterIPs;
  }
  if (needsNodePort(old) && needsNodePort(s)) {
    const oldUsed = new Set(nodePortsOf(old));
    const used = new Set(nodePortsOf(s).filter((n) => oldUsed.has(n)));
    const byName = new Map<string, number>();
    for (const p of old.spec.ports ?? []) byName.set(p.name ?? '', p.nodePort ?? 0);
    for (const p of s.spec.ports ?? []) {
      if (!p.nodePort) {
        const v = byName.get(p.name ?? '') ?? 0;
        if (v && !used.has(v)) p.nodePort = v;
      }
    }
  }
  if (needsHCNodePort(old) && needsHCNodePort(s) && !s.spec.healthCheckNodePort)
    s.spec.healthCheckNodePort = old.spec.healthCheckNodePort;
}

/** Clear values that only made sense for the old type, if the client did not change them. */
function dropTypeDependentFields(s: any, old: any): void {
  const spec = s.spec;
  if (needsClusterIP(old) && !needsClusterIP(s)) {
    if (spec.clusterIP === old.spec.clusterIP && semanticEqual(spec.clusterIPs, old.spec.clusterIPs)) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    if (semanticEqual(spec.ipFamilies, old.spec.ipFamilies)) delete spec.ipFamilies;
    if (spec.ipFamilyPolicy === old.spec.ipFamilyPolicy) delete spec.ipFamilyPolicy;
  }
  if (needsNodePort(old) && !needsNodePort(s) && sameNodePorts(old, s)) {
    for (const p of spec.ports ?? []) delete p.nodePort;
  }
  if (needsHCNodePort(old) && !needsHCNodePort(s) && spec.healthCheckNodePort === old.spec.healthCheckNodePort)
    delete spec.healthCheckNodePort;
  if (old.spec.type === 'LoadBalancer' && spec.type !== 'LoadBalancer') {
    if (spec.allocateLoadBalancerNodePorts === old.spec.allocateLoadBalancerNodePorts)
      delete spec.allocateLoadBalancerNodePorts;
    if (spec.loadBalancerClass === old.spec.loadBalancerClass) delete spec.loadBalancerClass;
  }
  if (
    externallyAccessible(old) &&
    !externallyAccessible(s) &&
    spec.externalTrafficPolicy === old.spec.externalTrafficPolicy
  ) {
    delete spec.externalTrafficPolicy;
  }
}

export const services: ResourceDef = {
  group: '',
  versions: [{ name: 'v1' }],
  kind: 'Service',
  plural: 'services',
  singular: 'service',
  shortNames: ['svc'],
  categories: ['all'],
  namespaced: true,
  nameRule: 'rfc1035-label',
  subresources: { status: true },
  generationTracksSpec: false,
  table: serviceColumns,
  defaults: defaultService,

  prepareForCreate(obj: any, ctx: StrategyContext) {
    obj.spec ??= {};
    obj.status = { loadBalancer: {} };
    const spec = obj.spec;
    if (spec.clusterIP && !spec.clusterIPs?.length) spec.clusterIPs = [spec.clusterIP];
    if (spec.type === 'ExternalName') return;
    initFamilies(obj, ctx);
    // Allocate only what a valid object needs; validation reports the rest.
    if (validateService(obj, ctx, true).length) return;
    const txn: Txn = { ips: [], ports: [] };
    try {
      allocateClusterIPs(obj, ctx, txn);
      allocateNodePorts(obj, ctx, txn);
    } catch (e) {
      rollback(ctx, txn);
      throw e;
    }
  },

  prepareForUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') {
      obj.spec = old.spec;
      return;
    }
    obj.spec ??= {};
    obj.status = old.status;
    const spec = obj.spec;
    // normalizeClusterIPs for updates.
    if (old.spec?.clusterIPs?.length && !spec.clusterIPs?.length && old.spec.clusterIP === spec.clusterIP) {
      spec.clusterIPs = old.spec.clusterIPs;
    }
    if ((old.spec?.clusterIP ?? '') !== (spec.clusterIP ?? '')) {
      const same = semanticEqual(old.spec?.clusterIPs, spec.clusterIPs);
      if (old.spec?.clusterIP && !spec.clusterIP) {
        if (same) delete spec.clusterIPs;
      } else if (same) {
        spec.clusterIPs = [spec.clusterIP];
      }
    }
    patchAllocatedValues(obj, old);
    dropTypeDependentFields(obj, old);
    initFamilies(obj, ctx, old);
    if (validateService(obj, ctx, true).length || validateServiceUpdate(obj, old).length) return;
    const txn: Txn = { ips: [], ports: [] };
    try {
      allocateClusterIPs(obj, ctx, txn, old);
      allocateNodePorts(obj, ctx, txn, old);
    } catch (e) {
      rollback(ctx, txn);
      throw e;
    }
    // Release what the new object no longer holds.
    const keepIPs = new Set(clusterIPsOf(obj));
    for (const ip of clusterIPsOf(old)) if (!keepIPs.has(ip)) ctx.allocators.releaseClusterIP(ip);
    const keepPorts = new Set(nodePortsOf(obj));
    for (const p of nodePortsOf(old)) if (!keepPorts.has(p)) ctx.allocators.releaseNodePort(p);
  },

  validate(obj: any, ctx: StrategyContext) {
    if (ctx.subresource === 'status') {
      const errs: FieldError[] = [];
      const ing: any[] = obj.status?.loadBalancer?.ingress ?? [];
      const ip = path('status', 'loadBalancer', 'ingress');
      if (obj.spec?.type !== 'LoadBalancer' && ing.length)
        errs.push(forbidden(ip, "may only be used when `spec.type` is 'LoadBalancer'"));
      ing.forEach((x, i) => {
        if (x.ip) errs.push(...msgs(ip.index(i).child('ip'), x.ip, isValidIP(x.ip)));
        if (x.ipMode && !x.ip)
          errs.push(forbidden(ip.index(i).child('ipMode'), 'may not be specified when `ip` is not set'));
        else if (x.ipMode && !['Proxy', 'VIP'].includes(x.ipMode))
          errs.push(notSupported(ip.index(i).child('ipMode'), x.ipMode, ['Proxy', 'VIP']));
        if (x.hostname) {
          errs.push(...msgs(ip.index(i).child('hostname'), x.hostname, isDNS1123Subdomain(x.hostname)));
          if (isValidIP(x.hostname).length === 0)
            errs.push(invalid(ip.index(i).child('hostname'), x.hostname, 'must be a DNS name, not an IP address'));
        }
      });
      return errs;
    }
    return validateService(obj, ctx);
  },

  validateUpdate(obj: any, old: any, ctx: StrategyContext) {
    if (ctx.subresource) return [];
    return validateServiceUpdate(obj, old);
  },

  afterDelete(obj: any, ctx: StrategyContext) {
    for (const ip of clusterIPsOf(obj)) ctx.allocators.releaseClusterIP(ip);
    for (const p of new Set(nodePortsOf(obj))) ctx.allocators.releaseNodePort(p);
  },

  fieldSelectors: {
    'spec.clusterIP': (s) => s.spec?.clusterIP ?? '',
    'spec.type': (s) => s.spec?.type ?? '',
  },
};
