// PodSpec and PodTemplateSpec: defaults (SetDefaults_PodSpec, _Container, _Probe, _Volume, ...) and
// validation (ValidatePodSpec and what it calls), shared by Pods, PodTemplates,
// ReplicationControllers and every workload API with a pod template.
import type { PodSpec, PodTemplateSpec, Container, Volume, Probe } from 'kubernetes-types/core/v1.js';
import {
  type FieldError,
  type FieldPath,
  duplicate,
  forbidden,
  invalid,
  notSupported,
  required,
} from '../../../machinery/fielderrors.js';
import {
  isConfigMapKey,
  isDNS1123Label,
  isDNS1123Subdomain,
  isEnvVarName,
  isQualifiedName,
  isValidIP,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
  validateAnnotations,
  validateLabels,
  validateLabelSelector,
  validateNonnegative,
} from '../../../machinery/validation.js';
import { validateNonNegativeQuantity } from '../../../machinery/quantity.js';
import {
  compareQuantity,
  isHugePageResourceName,
  isOvercommitAllowed,
  notFound,
  quantityString,
  validateContainerResourceName,
  validateResourceQuantityValue,
} from './helpers.js';

export interface PodSpecValidationOptions {
  /** The spec belongs to a Pod (not a template): a few checks apply only then. */
  isPod?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Defaults

/** PullAlways for `:latest` or no tag, IfNotPresent otherwise (a digest counts as a tag). */
export function defaultPullPolicy(image: string | undefined): 'Always' | 'IfNotPresent' {
  const img = image ?? '';
  if (img.includes('@')) return 'IfNotPresent';
  const lastSlash = img.lastIndexOf('/');
  const colon = img.indexOf(':', lastSlash + 1);
  if (colon < 0) return 'Always';
  return img.slice(colon + 1) === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultHTTPGet(h: any): void {
  if (!h) return;
  if (!h.path) h.path = '/';
  if (!h.scheme) h.scheme = 'HTTP';
}

function defaultProbe(p: any): void {
  if (!p) return;
  if (!p.timeoutSeconds) p.timeoutSeconds = 1;
  if (!p.periodSeconds) p.periodSeconds = 10;
  if (!p.successThreshold) p.successThreshold = 1;
  if (!p.failureThreshold) p.failureThreshold = 3;
  defaultHTTPGet(p.httpGet);
  // Upstream defaults the gRPC service name to "" (kubectl describe dereferences it).
  if (p.grpc && typeof p.grpc === 'object' && p.grpc.service === undefined) p.grpc.service = '';
}

function defaultFieldRef(ref: any): void {
  if (ref && !ref.apiVersion) ref.apiVersion = 'v1';
}

export function defaultContainer(c: any): void {
  if (!c.imagePullPolicy) c.imagePullPolicy = defaultPullPolicy(c.image);
  if (!c.terminationMessagePath) c.terminationMessagePath = '/dev/termination-log';
  if (!c.terminationMessagePolicy) c.terminationMessagePolicy = 'File';
  if (!c.resources) c.resources = {};
  for (const port of c.ports ?? []) if (!port.protocol) port.protocol = 'TCP';
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) defaultProbe(probe);
  for (const h of [c.lifecycle?.postStart, c.lifecycle?.preStop]) defaultHTTPGet(h?.httpGet);
  for (const e of c.env ?? []) defaultFieldRef(e.valueFrom?.fieldRef);
}

const VOLUME_SOURCES = [
  'awsElasticBlockStore',
  'azureDisk',
  'azureFile',
  'cephfs',
  'cinder',
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'fc',
  'flexVolume',
  'flocker',
  'gcePersistentDisk',
  'gitRepo',
  'glusterfs',
  'hostPath',
  'image',
  'iscsi',
  'nfs',
  'persistentVolumeClaim',
  'photonPersistentDisk',
  'portworxVolume',
  'projected',
  'quobyte',
  'rbd',
  'scaleIO',
  'secret',
  'storageos',
  'vsphereVolume',
] as const;

export function defaultVolume(v: any): void {
  if (!VOLUME_SOURCES.some((k) => v[k] !== undefined && v[k] !== null)) v.emptyDir = {};
  if (v.secret && v.secret.defaultMode === undefined) v.secret.defaultMode = 420;
  if (v.configMap && v.configMap.defaultMode === undefined) v.configMap.defaultMode = 420;
  if (v.downwardAPI) {
    if (v.downwardAPI.defaultMode === undefined) v.downwardAPI.defaultMode = 420;
    for (const it of v.downwardAPI.items ?? []) defaultFieldRef(it.fieldRef);
  }
  if (v.projected) {
    if (v.projected.defaultMode === undefined) v.projected.defaultMode = 420;
    for (const s of v.projected.sources ?? []) {
      if (s.serviceAccountToken && s.serviceAccountToken.expirationSeconds === undefined) {
        s.serviceAccountToken.expirationSeconds = 3600;
      }
      for (const it of s.downwardAPI?.items ?? []) defaultFieldRef(it.fieldRef);
    }
  }
  if (v.hostPath && v.hostPath.type === undefined) v.hostPath.type = '';
}

/** SetDefaults_PodSpec and the defaults of everything a PodSpec holds. */
export function defaultPodSpec(spec: PodSpec | undefined): void {
  if (!spec) return;
  const s = spec as any;
  if (!s.dnsPolicy) s.dnsPolicy = 'ClusterFirst';
  if (!s.restartPolicy) s.restartPolicy = 'Always';
  if (!s.securityContext) s.securityContext = {};
  if (s.terminationGracePeriodSeconds === undefined || s.terminationGracePeriodSeconds === null) {
    s.terminationGracePeriodSeconds = 30;
  }
  if (!s.schedulerName) s.schedulerName = 'default-scheduler';
  for (const c of s.containers ?? []) defaultContainer(c);
  for (const c of s.initContainers ?? []) defaultContainer(c);
  for (const c of s.ephemeralContainers ?? []) defaultContainer(c);
  for (const v of s.volumes ?? []) defaultVolume(v);
}

export function defaultPodTemplateSpec(tpl: PodTemplateSpec | undefined): void {
  if (!tpl) return;
  defaultPodSpec(tpl.spec);
}

// ---------------------------------------------------------------------------------------------
// Validation

const msgsToInvalid = (p: FieldPath, value: unknown, msgs: string[]) => msgs.map((m) => invalid(p, value, m));
const inclusiveRange = (lo: number, hi: number) => `must be between ${lo} and ${hi}, inclusive`;
const FILE_MODE_MSG = 'must be a number between 0 and 0777 (octal), both inclusive';
const MAX_INT32 = 2147483647;

function validateDNS1123Label(v: string, p: FieldPath): FieldError[] {
  return msgsToInvalid(p, v, isDNS1123Label(v));
}

function validateDNS1123Subdomain(v: string, p: FieldPath): FieldError[] {
  return msgsToInvalid(p, v, isDNS1123Subdomain(v));
}

function validateLabelName(v: string, p: FieldPath): FieldError[] {
  return msgsToInvalid(p, v, isQualifiedName(v));
}

export function validatePortNumOrName(port: unknown, p: FieldPath): FieldError[] {
  if (typeof port === 'number') return msgsToInvalid(p, port, isValidPortNum(port));
  if (typeof port === 'string') return msgsToInvalid(p, port, isValidPortName(port));
  return [invalid(p, port ?? null, 'must be a port number or a port name')];
}

function validateLocalDescendingPath(target: string, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (target.startsWith('/')) errs.push(invalid(p, target, 'must be a relative path'));
  if (target.split('/').includes('..')) errs.push(invalid(p, target, "must not contain '..'"));
  return errs;
}

function validateLocalNonReservedPath(target: string, p: FieldPath): FieldError[] {
  const errs = validateLocalDescendingPath(target, p);
  if (target.startsWith('..')) errs.push(invalid(p, target, "must not start with '..'"));
  return errs;
}

function validateMode(mode: unknown, p: FieldPath): FieldError[] {
  if (mode === undefined || mode === null) return [];
  if (typeof mode !== 'number' || mode < 0 || mode > 0o777) return [invalid(p, mode, FILE_MODE_MSG)];
  return [];
}

function validateKeyToPaths(items: any[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (items ?? []).forEach((kp, i) => {
    const ip = p.index(i);
    if (!kp.key) errs.push(required(ip.child('key')));
    if (!kp.path) errs.push(required(ip.child('path')));
    else errs.push(...validateLocalNonReservedPath(kp.path, ip.child('path')));
    errs.push(...validateMode(kp.mode, ip.child('mode')));
  });
  return errs;
}

const DOWNWARD_VOLUME_FIELDS = [
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
];
const DOWNWARD_ENV_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];

function validateObjectFieldSelector(ref: any, allowed: string[], p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!ref.apiVersion) errs.push(required(p.child('apiVersion')));
  if (!ref.fieldPath) {
    errs.push(required(p.child('fieldPath')));
    return errs;
  }
  const fp: string = ref.fieldPath;
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fp);
  if (sub) {
    const key = sub[2];
    errs.push(...msgsToInvalid(p.child('fieldPath'), key, isQualifiedName(key.toLowerCase())));
  } else if (!allowed.includes(fp)) {
    errs.push(notSupported(p.child('fieldPath'), fp, allowed));
  }
  return errs;
}

function validateDownwardAPIItems(items: any[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (items ?? []).forEach((it, i) => {
    const ip = p.index(i);
    if (!it.path) errs.push(required(ip.child('path')));
    else errs.push(...validateLocalNonReservedPath(it.path, ip.child('path')));
    errs.push(...validateMode(it.mode, ip.child('mode')));
    if (it.fieldRef) {
      errs.push(...validateObjectFieldSelector(it.fieldRef, DOWNWARD_VOLUME_FIELDS, ip.child('fieldRef')));
      if (it.resourceFieldRef) {
        errs.push(invalid(ip, 'resource', 'fieldRef and resourceFieldRef can not be specified simultaneously'));
      }
    } else if (!it.resourceFieldRef) {
      errs.push(required(ip, 'one of fieldRef and resourceFieldRef is required'));
    }
  });
  return errs;
}

const HOST_PATH_TYPES = [
  '',
  'BlockDevice',
  'CharDevice',
  'Directory',
  'DirectoryOrCreate',
  'File',
  'FileOrCreate',
  'Socket',
];

function validateVolumeSource(v: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  let count = 0;
  for (const key of VOLUME_SOURCES) {
    const src = v[key];
    if (src === undefined || src === null) continue;
    if (count > 0) {
      errs.push(forbidden(p.child(key), 'may not specify more than 1 volume type'));
      continue;
    }
    count++;
    const sp = p.child(key);
    switch (key) {
      case 'hostPath':
        if (!src.path) errs.push(required(sp.child('path')));
        if (src.type !== undefined && !HOST_PATH_TYPES.includes(src.type)) {
          errs.push(notSupported(sp.child('type'), src.type, HOST_PATH_TYPES));
        }
        break;
      case 'emptyDir':
        if (
          src.medium !== undefined &&
          !['', 'Memory', 'HugePages'].includes(src.medium) &&
          !/^HugePages-/.test(src.medium)
        ) {
          errs.push(notSupported(sp.child('medium'), src.medium, ['', 'Memory', 'HugePages']));
        }
        if (src.sizeLimit !== undefined) {
          const e = validateNonNegativeQuantity(src.sizeLimit, sp.child('sizeLimit'));
          if (e.length)
            errs.push(forbidden(sp.child('sizeLimit'), 'SizeLimit field must be a valid resource quantity'));
        }
        break;
      case 'secret':
        if (!src.secretName) errs.push(required(sp.child('secretName')));
        errs.push(...validateMode(src.defaultMode, sp.child('defaultMode')));
        errs.push(...validateKeyToPaths(src.items, sp.child('items')));
        break;
      case 'configMap':
        if (!src.name) errs.push(required(sp.child('name')));
        errs.push(...validateMode(src.defaultMode, sp.child('defaultMode')));
        errs.push(...validateKeyToPaths(src.items, sp.child('items')));
        break;
      case 'persistentVolumeClaim':
        if (!src.claimName) errs.push(required(sp.child('claimName')));
        break;
      case 'nfs':
        if (!src.server) errs.push(required(sp.child('server')));
        if (!src.path) errs.push(required(sp.child('path')));
        else if (!String(src.path).startsWith('/'))
          errs.push(invalid(sp.child('path'), src.path, 'must be an absolute path'));
        break;
      case 'downwardAPI':
        errs.push(...validateMode(src.defaultMode, sp.child('defaultMode')));
        errs.push(...validateDownwardAPIItems(src.items, sp.child('items')));
        break;
      case 'projected':
        errs.push(...validateMode(src.defaultMode, sp.child('defaultMode')));
        (src.sources ?? []).forEach((s: any, i: number) => {
          const pp = sp.child('sources').index(i);
          const kinds = ['secret', 'configMap', 'downwardAPI', 'serviceAccountToken', 'clusterTrustBundle'].filter(
            (k) => s[k],
          );
          if (kinds.length > 1) errs.push(forbidden(pp, 'may not specify more than 1 volume type per source'));
          if (s.secret) errs.push(...validateKeyToPaths(s.secret.items, pp.child('secret', 'items')));
          if (s.configMap) errs.push(...validateKeyToPaths(s.configMap.items, pp.child('configMap', 'items')));
          if (s.downwardAPI)
            errs.push(...validateDownwardAPIItems(s.downwardAPI.items, pp.child('downwardAPI', 'items')));
          if (s.serviceAccountToken) {
            const t = s.serviceAccountToken;
            const tp = pp.child('serviceAccountToken');
            if (t.expirationSeconds !== undefined) {
              if (t.expirationSeconds < 600)
                errs.push(
                  invalid(
                    tp.child('expirationSeconds'),
                    t.expirationSeconds,
                    'may not specify a duration less than 10 minutes',
                  ),
                );
              if (t.expirationSeconds > 2 ** 32)
                errs.push(
                  invalid(
                    tp.child('expirationSeconds'),
                    t.expirationSeconds,
                    'may not specify a duration larger than 2^32 seconds',
                  ),
                );
            }
            if (!t.path) errs.push(required(tp.child('path')));
            else errs.push(...validateLocalNonReservedPath(t.path, tp.child('path')));
          }
        });
        break;
      case 'csi':
        if (!src.driver) errs.push(required(sp.child('driver')));
        break;
      case 'image':
        if (!src.reference) errs.push(required(sp.child('reference')));
        break;
      default:
        break;
    }
  }
  if (count === 0) errs.push(required(p, 'must specify a volume type'));
  return errs;
}

/** ValidateVolumes: returns the names of valid volumes (for volumeMounts) and the errors. */
export function validateVolumes(
  volumes: Volume[] | undefined,
  p: FieldPath,
): { names: Set<string>; errors: FieldError[] } {
  const names = new Set<string>();
  const seen = new Set<string>();
  const errors: FieldError[] = [];
  (volumes ?? []).forEach((vol: any, i) => {
    const ip = p.index(i);
    const np = ip.child('name');
    const el = validateVolumeSource(vol, ip);
    if (!vol.name) el.push(required(np));
    else el.push(...validateDNS1123Label(vol.name, np));
    if (seen.has(vol.name)) el.push(duplicate(np, vol.name));
    seen.add(vol.name);
    if (el.length === 0) names.add(vol.name);
    else errors.push(...el);
  });
  return { names, errors };
}

function validateContainerPorts(ports: any[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  (ports ?? []).forEach((port, i) => {
    const ip = p.index(i);
    if (port.name) {
      const msgs = isValidPortName(port.name);
      if (msgs.length) errs.push(...msgsToInvalid(ip.child('name'), port.name, msgs));
      else if (names.has(port.name)) errs.push(duplicate(ip.child('name'), port.name));
      else names.add(port.name);
    }
    if (!port.containerPort) errs.push(required(ip.child('containerPort')));
    else errs.push(...msgsToInvalid(ip.child('containerPort'), port.containerPort, isValidPortNum(port.containerPort)));
    if (port.hostPort) errs.push(...msgsToInvalid(ip.child('hostPort'), port.hostPort, isValidPortNum(port.hostPort)));
    errs.push(...validateProtocol(port.protocol, ip.child('protocol')));
  });
  return errs;
}

export const SUPPORTED_PROTOCOLS = ['SCTP', 'TCP', 'UDP'];

export function validateProtocol(proto: unknown, p: FieldPath): FieldError[] {
  if (!proto) return [required(p)];
  if (!SUPPORTED_PROTOCOLS.includes(proto as string)) return [notSupported(p, proto, SUPPORTED_PROTOCOLS)];
  return [];
}

function validateKeySelector(sel: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!sel.name) errs.push(required(p.child('name')));
  else errs.push(...validateDNS1123Subdomain(sel.name, p.child('name')));
  if (!sel.key) errs.push(required(p.child('key')));
  else errs.push(...msgsToInvalid(p.child('key'), sel.key, isConfigMapKey(sel.key)));
  return errs;
}

function validateEnv(env: any[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (env ?? []).forEach((ev, i) => {
    const ip = p.index(i);
    if (!ev.name) errs.push(required(ip.child('name')));
    else errs.push(...msgsToInvalid(ip.child('name'), ev.name, isEnvVarName(ev.name)));
    const vf = ev.valueFrom;
    if (!vf) return;
    const vp = ip.child('valueFrom');
    let n = 0;
    if (vf.fieldRef) {
      n++;
      errs.push(...validateObjectFieldSelector(vf.fieldRef, DOWNWARD_ENV_FIELDS, vp.child('fieldRef')));
    }
    if (vf.resourceFieldRef) {
      n++;
      if (!vf.resourceFieldRef.resource) errs.push(required(vp.child('resourceFieldRef', 'resource')));
    }
    if (vf.configMapKeyRef) {
      n++;
      errs.push(...validateKeySelector(vf.configMapKeyRef, vp.child('configMapKeyRef')));
    }
    if (vf.secretKeyRef) {
      n++;
      errs.push(...validateKeySelector(vf.secretKeyRef, vp.child('secretKeyRef')));
    }
    if (vf.fileKeyRef) n++;
    if (n === 0) {
      errs.push(
        invalid(vp, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'),
      );
    } else if (ev.value) {
      errs.push(invalid(vp, '', 'may not be specified when `value` is not empty'));
    } else if (n > 1) {
      errs.push(invalid(vp, '', 'may not have more than one field specified at a time'));
    }
  });
  return errs;
}

function validateEnvFrom(envFrom: any[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (envFrom ?? []).forEach((ef, i) => {
    const ip = p.index(i);
    let n = 0;
    if (ef.configMapRef) {
      n++;
      if (!ef.configMapRef.name) errs.push(required(ip.child('configMapRef', 'name')));
    }
    if (ef.secretRef) {
      n++;
      if (!ef.secretRef.name) errs.push(required(ip.child('secretRef', 'name')));
    }
    if (n === 0) errs.push(invalid(ip, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (n > 1) errs.push(invalid(ip, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

function validateVolumeMounts(mounts: any[] | undefined, volumes: Set<string>, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const points = new Set<string>();
  (mounts ?? []).forEach((m, i) => {
    const ip = p.index(i);
    if (!m.name) errs.push(required(ip.child('name')));
    if (!volumes.has(m.name)) errs.push(notFound(ip.child('name'), m.name ?? ''));
    if (!m.mountPath) errs.push(required(ip.child('mountPath')));
    if (m.mountPath && points.has(m.mountPath))
      errs.push(invalid(ip.child('mountPath'), m.mountPath, 'must be unique'));
    if (m.mountPath) points.add(m.mountPath);
    if (m.subPath) errs.push(...validateLocalDescendingPath(m.subPath, ip.child('subPath')));
    if (m.subPathExpr) {
      if (m.subPath)
        errs.push(invalid(ip.child('subPathExpr'), m.subPathExpr, 'subPathExpr and subPath are mutually exclusive'));
      errs.push(...validateLocalDescendingPath(m.subPathExpr, ip.child('subPathExpr')));
    }
    if (
      m.mountPropagation !== undefined &&
      !['Bidirectional', 'HostToContainer', 'None'].includes(m.mountPropagation)
    ) {
      errs.push(
        notSupported(ip.child('mountPropagation'), m.mountPropagation, ['Bidirectional', 'HostToContainer', 'None']),
      );
    }
  });
  return errs;
}

function validateHandler(h: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  const one = (key: string, fn: () => void) => {
    if (!h[key]) return;
    if (n > 0) {
      errs.push(forbidden(p.child(key), 'may not specify more than 1 handler type'));
      return;
    }
    n++;
    fn();
  };
  one('exec', () => {
    if (!h.exec.command?.length) errs.push(required(p.child('exec', 'command')));
  });
  one('httpGet', () => {
    const hp = p.child('httpGet');
    if (!h.httpGet.path) errs.push(required(hp.child('path')));
    errs.push(...validatePortNumOrName(h.httpGet.port, hp.child('port')));
    if (h.httpGet.scheme && !['HTTP', 'HTTPS'].includes(h.httpGet.scheme)) {
      errs.push(notSupported(hp.child('scheme'), h.httpGet.scheme, ['HTTP', 'HTTPS']));
    }
  });
  one('tcpSocket', () => {
    errs.push(...validatePortNumOrName(h.tcpSocket.port, p.child('tcpSocket', 'port')));
  });
  one('grpc', () => {
    errs.push(...msgsToInvalid(p.child('grpc', 'port'), h.grpc.port, isValidPortNum(h.grpc.port)));
  });
  one('sleep', () => {
    if (typeof h.sleep.seconds !== 'number' || h.sleep.seconds < 0) {
      errs.push(invalid(p.child('sleep', 'seconds'), h.sleep.seconds, 'must be non-negative'));
    }
  });
  if (n === 0) errs.push(required(p, 'must specify a handler type'));
  return errs;
}

function validateProbe(probe: Probe | undefined, p: FieldPath): FieldError[] {
  if (!probe) return [];
  const pr = probe as any;
  const errs = validateHandler(pr, p);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    if (pr[f] !== undefined) errs.push(...validateNonnegative(pr[f], p.child(f)));
  }
  if (pr.terminationGracePeriodSeconds !== undefined && pr.terminationGracePeriodSeconds <= 0) {
    errs.push(
      invalid(p.child('terminationGracePeriodSeconds'), pr.terminationGracePeriodSeconds, 'must be greater than 0'),
    );
  }
  return errs;
}

function validateResources(res: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!res) return errs;
  const limPath = p.child('limits');
  const reqPath = p.child('requests');
  const limits: Record<string, unknown> = res.limits ?? {};
  const requests: Record<string, unknown> = res.requests ?? {};
  let limCpuMem = false;
  let reqCpuMem = false;
  let hugePages = false;
  for (const [name, q] of Object.entries(limits)) {
    const fp = limPath.key(name);
    errs.push(...validateContainerResourceName(name, fp));
    errs.push(...validateResourceQuantityValue(name, q, fp));
    if (isHugePageResourceName(name)) hugePages = true;
    if (name === 'cpu' || name === 'memory') limCpuMem = true;
  }
  for (const [name, q] of Object.entries(requests)) {
    const fp = reqPath.key(name);
    errs.push(...validateContainerResourceName(name, fp));
    errs.push(...validateResourceQuantityValue(name, q, fp));
    if (Object.hasOwn(limits, name)) {
      const c = compareQuantity(q, limits[name]);
      if (c !== undefined && c !== 0 && !isOvercommitAllowed(name)) {
        errs.push(
          invalid(reqPath, quantityString(q), `must be equal to ${name} limit of ${quantityString(limits[name])}`),
        );
      } else if (c !== undefined && c > 0) {
        errs.push(
          invalid(
            reqPath,
            quantityString(q),
            `must be less than or equal to ${name} limit of ${quantityString(limits[name])}`,
          ),
        );
      }
    } else if (!isOvercommitAllowed(name)) {
      errs.push(required(limPath, 'Limit must be set for non overcommitable resources'));
    }
    if (isHugePageResourceName(name)) hugePages = true;
    if (name === 'cpu' || name === 'memory') reqCpuMem = true;
  }
  if (hugePages && !limCpuMem && !reqCpuMem) errs.push(forbidden(p, 'HugePages require cpu or memory'));
  return errs;
}

function validateSecurityContext(sc: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!sc) return errs;
  for (const f of ['runAsUser', 'runAsGroup']) {
    if (sc[f] !== undefined && sc[f] !== null && (sc[f] < 0 || sc[f] > MAX_INT32)) {
      errs.push(invalid(p.child(f), sc[f], inclusiveRange(0, MAX_INT32)));
    }
  }
  if (sc.procMount !== undefined && !['Default', 'Unmasked'].includes(sc.procMount)) {
    errs.push(notSupported(p.child('procMount'), sc.procMount, ['Default', 'Unmasked']));
  }
  if (sc.allowPrivilegeEscalation === false && sc.privileged === true) {
    errs.push(invalid(p, sc, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
  }
  return errs;
}

const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const TERMINATION_MESSAGE_POLICIES = ['FallbackToLogsOnError', 'File'];

function validateContainerCommon(
  c: any,
  volumes: Set<string>,
  p: FieldPath,
  opts: PodSpecValidationOptions,
): FieldError[] {
  const errs: FieldError[] = [];
  if (!c.image) errs.push(required(p.child('image')));
  else if (opts.isPod && c.image.trim() !== c.image) {
    errs.push(invalid(p.child('image'), c.image, 'must not have leading or trailing whitespace'));
  }
  if (c.lifecycle) {
    if (c.lifecycle.postStart) errs.push(...validateHandler(c.lifecycle.postStart, p.child('lifecycle', 'postStart')));
    if (c.lifecycle.preStop) errs.push(...validateHandler(c.lifecycle.preStop, p.child('lifecycle', 'preStop')));
  }
  errs.push(...validateContainerPorts(c.ports, p.child('ports')));
  errs.push(...validateEnv(c.env, p.child('env')));
  errs.push(...validateEnvFrom(c.envFrom, p.child('envFrom')));
  errs.push(...validateVolumeMounts(c.volumeMounts, volumes, p.child('volumeMounts')));
  if (!c.terminationMessagePolicy) errs.push(required(p.child('terminationMessagePolicy')));
  else if (!TERMINATION_MESSAGE_POLICIES.includes(c.terminationMessagePolicy)) {
    errs.push(
      notSupported(p.child('terminationMessagePolicy'), c.terminationMessagePolicy, TERMINATION_MESSAGE_POLICIES),
    );
  }
  if (!c.imagePullPolicy) errs.push(required(p.child('imagePullPolicy')));
  else if (!PULL_POLICIES.includes(c.imagePullPolicy)) {
    errs.push(notSupported(p.child('imagePullPolicy'), c.imagePullPolicy, PULL_POLICIES));
  }
  errs.push(...validateResources(c.resources, p.child('resources')));
  errs.push(...validateSecurityContext(c.securityContext, p.child('securityContext')));
  return errs;
}

function validateContainerName(c: any, names: Set<string>, p: FieldPath): FieldError[] {
  const np = p.child('name');
  if (!c.name) return [required(np)];
  const errs = validateDNS1123Label(c.name, np);
  if (names.has(c.name)) errs.push(duplicate(np, c.name));
  else names.add(c.name);
  return errs;
}

function validateContainers(
  containers: Container[] | undefined,
  volumes: Set<string>,
  p: FieldPath,
  opts: PodSpecValidationOptions,
): FieldError[] {
  if (!containers || containers.length === 0) return [required(p)];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  containers.forEach((c: any, i) => {
    const ip = p.index(i);
    errs.push(...validateContainerName(c, names, ip));
    errs.push(...validateContainerCommon(c, volumes, ip, opts));
    errs.push(...validateProbe(c.livenessProbe, ip.child('livenessProbe')));
    errs.push(...validateProbe(c.readinessProbe, ip.child('readinessProbe')));
    errs.push(...validateProbe(c.startupProbe, ip.child('startupProbe')));
    if (c.livenessProbe && c.livenessProbe.successThreshold !== 1) {
      errs.push(
        invalid(ip.child('livenessProbe', 'successThreshold'), c.livenessProbe.successThreshold ?? 0, 'must be 1'),
      );
    }
    if (c.startupProbe && c.startupProbe.successThreshold !== 1) {
      errs.push(
        invalid(ip.child('startupProbe', 'successThreshold'), c.startupProbe.successThreshold ?? 0, 'must be 1'),
      );
    }
  });
  return errs;
}

function validateInitContainers(
  inits: Container[] | undefined,
  containers: Container[] | undefined,
  volumes: Set<string>,
  p: FieldPath,
  opts: PodSpecValidationOptions,
): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>((containers ?? []).map((c) => c.name).filter(Boolean));
  (inits ?? []).forEach((c: any, i) => {
    const ip = p.index(i);
    errs.push(...validateContainerName(c, names, ip));
    errs.push(...validateContainerCommon(c, volumes, ip, opts));
    const restartable = c.restartPolicy === 'Always';
    if (c.restartPolicy !== undefined && c.restartPolicy !== null && !restartable) {
      errs.push(notSupported(ip.child('restartPolicy'), c.restartPolicy, ['Always']));
    }
    if (restartable) {
      errs.push(...validateProbe(c.livenessProbe, ip.child('livenessProbe')));
      errs.push(...validateProbe(c.readinessProbe, ip.child('readinessProbe')));
      errs.push(...validateProbe(c.startupProbe, ip.child('startupProbe')));
    } else {
      const msg = 'may not be set for init containers without restartPolicy=Always';
      if (c.lifecycle) errs.push(forbidden(ip.child('lifecycle'), msg));
      if (c.livenessProbe) errs.push(forbidden(ip.child('livenessProbe'), msg));
      if (c.readinessProbe) errs.push(forbidden(ip.child('readinessProbe'), msg));
      if (c.startupProbe) errs.push(forbidden(ip.child('startupProbe'), msg));
    }
  });
  return errs;
}

/**
 * Fields of EphemeralContainerCommon an ephemeral container may not set (upstream keeps an allow
 * list; these are the fields left out of it): ephemeral containers are not part of the pod's
 * service, so no ports, resources, restart rules, probes or lifecycle hooks.
 */
const EPHEMERAL_FORBIDDEN_FIELDS = [
  'ports',
  'resources',
  'resizePolicy',
  'restartPolicy',
  'restartPolicyRules',
  'livenessProbe',
  'readinessProbe',
  'startupProbe',
  'lifecycle',
] as const;
const EPHEMERAL_FORBIDDEN = 'cannot be set for an Ephemeral Container';

/** Whether a field differs from Go's zero value (resources is a struct: `{}` is unset). */
function fieldSet(name: string, v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (name === 'resources' && typeof v === 'object') return Object.values(v).some((x) => x !== undefined && x !== null);
  return true;
}

/** validateEphemeralContainers: names unique across all containers, targets that exist, no service fields. */
function validateEphemeralContainers(
  ephemerals: any[] | undefined,
  s: any,
  volumes: Set<string>,
  p: FieldPath,
  opts: PodSpecValidationOptions,
): FieldError[] {
  const errs: FieldError[] = [];
  if (!ephemerals?.length) return errs;
  const others = new Set<string>(
    [...(s.containers ?? []), ...(s.initContainers ?? [])].map((c: any) => c.name).filter(Boolean),
  );
  const names = new Set(others);
  ephemerals.forEach((c: any, i) => {
    const ip = p.index(i);
    errs.push(...validateContainerName(c, names, ip));
    errs.push(...validateContainerCommon(c, volumes, ip, opts));
    if (c.targetContainerName && !others.has(c.targetContainerName))
      errs.push(notFound(ip.child('targetContainerName'), c.targetContainerName));
    for (const f of EPHEMERAL_FORBIDDEN_FIELDS)
      if (fieldSet(f, c[f])) errs.push(forbidden(ip.child(f), EPHEMERAL_FORBIDDEN));
    (c.volumeMounts ?? []).forEach((m: any, j: number) => {
      if (m.subPath) errs.push(forbidden(ip.child('volumeMounts').index(j).child('subPath'), EPHEMERAL_FORBIDDEN));
      if (m.subPathExpr)
        errs.push(forbidden(ip.child('volumeMounts').index(j).child('subPathExpr'), EPHEMERAL_FORBIDDEN));
    });
  });
  return errs;
}

const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'];

export function validateTaintEffect(effect: unknown, allowEmpty: boolean, p: FieldPath): FieldError[] {
  if (!effect) return allowEmpty ? [] : [required(p)];
  if (!TAINT_EFFECTS.includes(effect as string)) return [notSupported(p, effect, TAINT_EFFECTS)];
  return [];
}

export function validateTolerations(tolerations: any[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (tolerations ?? []).forEach((t, i) => {
    const ip = p.index(i);
    if (t.key) errs.push(...validateLabelName(t.key, ip.child('key')));
    if (!t.key && t.operator !== 'Exists') {
      errs.push(
        invalid(
          ip.child('operator'),
          t.operator ?? '',
          'operator must be Exists when `key` is empty, which means "match all values and all keys"',
        ),
      );
    }
    if (t.tolerationSeconds !== undefined && t.tolerationSeconds !== null && t.effect !== 'NoExecute') {
      errs.push(
        invalid(ip.child('effect'), t.effect ?? '', "effect must be 'NoExecute' when `tolerationSeconds` is set"),
      );
    }
    switch (t.operator ?? '') {
      case 'Equal':
      case '': {
        const msgs = isValidLabelValue(t.value ?? '');
        if (msgs.length) errs.push(invalid(ip.child('operator'), t.value, msgs.join(';')));
        break;
      }
      case 'Exists':
        if (t.value) errs.push(invalid(ip.child('operator'), t, "value must be empty when `operator` is 'Exists'"));
        break;
      default:
        errs.push(notSupported(ip.child('operator'), t.operator, ['Equal', 'Exists']));
    }
    if (t.effect) errs.push(...validateTaintEffect(t.effect, true, ip.child('effect')));
  });
  return errs;
}

function validateNodeSelectorRequirement(rq: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const values: unknown[] = rq.values ?? [];
  switch (rq.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0)
        errs.push(required(p.child('values'), "must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0)
        errs.push(forbidden(p.child('values'), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1)
        errs.push(required(p.child('values'), "must be specified single value when `operator` is 'Lt' or 'Gt'"));
      break;
    default:
      errs.push(invalid(p.child('operator'), rq.operator ?? '', 'not a valid selector operator'));
  }
  errs.push(...validateLabelName(rq.key ?? '', p.child('key')));
  return errs;
}

function validateNodeSelectorTerm(term: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  (term.matchExpressions ?? []).forEach((rq: any, j: number) =>
    errs.push(...validateNodeSelectorRequirement(rq, p.child('matchExpressions').index(j))),
  );
  (term.matchFields ?? []).forEach((rq: any, j: number) => {
    const fp = p.child('matchFields').index(j);
    if (rq.key !== 'metadata.name') errs.push(invalid(fp.child('key'), rq.key ?? '', 'not a valid field selector key'));
    if (rq.operator !== 'In' && rq.operator !== 'NotIn')
      errs.push(invalid(fp.child('operator'), rq.operator ?? '', 'not a valid selector operator'));
    if ((rq.values ?? []).length !== 1)
      errs.push(
        required(
          fp.child('values'),
          "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
        ),
      );
  });
  return errs;
}

function validatePodAffinityTerm(term: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (term.labelSelector) errs.push(...validateLabelSelector(term.labelSelector, p.child('labelSelector')));
  if (term.namespaceSelector) errs.push(...validateLabelSelector(term.namespaceSelector, p.child('namespaceSelector')));
  for (const ns of term.namespaces ?? []) errs.push(...msgsToInvalid(p.child('namespace'), ns, isDNS1123Label(ns)));
  if (!term.topologyKey) errs.push(required(p.child('topologyKey'), 'can not be empty'));
  else errs.push(...validateLabelName(term.topologyKey, p.child('topologyKey')));
  return errs;
}

function validateAffinity(aff: any, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (!aff) return errs;
  const na = aff.nodeAffinity;
  if (na) {
    const req = na.requiredDuringSchedulingIgnoredDuringExecution;
    const rp = p.child('nodeAffinity', 'requiredDuringSchedulingIgnoredDuringExecution');
    if (req) {
      if (!req.nodeSelectorTerms?.length)
        errs.push(required(rp.child('nodeSelectorTerms'), 'must have at least one node selector term'));
      (req.nodeSelectorTerms ?? []).forEach((t: any, i: number) =>
        errs.push(...validateNodeSelectorTerm(t, rp.child('nodeSelectorTerms').index(i))),
      );
    }
    (na.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t: any, i: number) => {
      const tp = p.child('nodeAffinity', 'preferredDuringSchedulingIgnoredDuringExecution').index(i);
      if (t.weight < 1 || t.weight > 100)
        errs.push(invalid(tp.child('weight'), t.weight, 'must be in the range 1-100'));
      errs.push(...validateNodeSelectorTerm(t.preference ?? {}, tp.child('preference')));
    });
  }
  for (const kind of ['podAffinity', 'podAntiAffinity']) {
    const a = aff[kind];
    if (!a) continue;
    (a.requiredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t: any, i: number) => {
      errs.push(
        ...validatePodAffinityTerm(t, p.child(kind, 'requiredDuringSchedulingIgnoredDuringExecution').index(i)),
      );
    });
    (a.preferredDuringSchedulingIgnoredDuringExecution ?? []).forEach((t: any, i: number) => {
      const tp = p.child(kind, 'preferredDuringSchedulingIgnoredDuringExecution').index(i);
      if (t.weight < 1 || t.weight > 100)
        errs.push(invalid(tp.child('weight'), t.weight, 'must be in the range 1-100'));
      errs.push(...validatePodAffinityTerm(t.podAffinityTerm ?? {}, tp.child('podAffinityTerm')));
    });
  }
  return errs;
}

function validateDNSConfig(cfg: any, dnsPolicy: string | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  if (dnsPolicy === 'None') {
    if (!cfg) return [required(p, 'must provide `dnsConfig` when `dnsPolicy` is None')];
    if (!cfg.nameservers?.length)
      errs.push(required(p.child('nameservers'), 'must provide at least one DNS nameserver when `dnsPolicy` is None'));
  }
  if (!cfg) return errs;
  const ns: string[] = cfg.nameservers ?? [];
  if (ns.length > 3) errs.push(invalid(p.child('nameservers'), ns, 'must not have more than 3 nameservers'));
  ns.forEach((ip, i) => errs.push(...msgsToInvalid(p.child('nameservers').index(i), ip, isValidIP(ip))));
  const searches: string[] = cfg.searches ?? [];
  if (searches.length > 32)
    errs.push(invalid(p.child('searches'), searches, 'must not have more than 32 search paths'));
  searches.forEach((s, i) => {
    if (s === '.') return;
    errs.push(...validateDNS1123Subdomain(s.replace(/\.$/, ''), p.child('searches').index(i)));
  });
  (cfg.options ?? []).forEach((o: any, i: number) => {
    if (!o.name) errs.push(required(p.child('options').index(i), 'Option.Name must not be empty'));
  });
  return errs;
}

function validateTopologySpread(constraints: any[] | undefined, p: FieldPath): FieldError[] {
  const errs: FieldError[] = [];
  const list = constraints ?? [];
  list.forEach((c, i) => {
    const ip = p.index(i);
    if (!(c.maxSkew > 0)) errs.push(invalid(ip.child('maxSkew'), c.maxSkew ?? 0, 'must be greater than zero'));
    if (!c.topologyKey) errs.push(required(ip.child('topologyKey'), 'can not be empty'));
    if (!['DoNotSchedule', 'ScheduleAnyway'].includes(c.whenUnsatisfiable)) {
      errs.push(
        notSupported(ip.child('whenUnsatisfiable'), c.whenUnsatisfiable ?? '', ['DoNotSchedule', 'ScheduleAnyway']),
      );
    }
    for (const d of list.slice(i + 1)) {
      if (d.topologyKey === c.topologyKey && d.whenUnsatisfiable === c.whenUnsatisfiable) {
        errs.push(
          duplicate(ip.child('{topologyKey, whenUnsatisfiable}'), `{${c.topologyKey}, ${c.whenUnsatisfiable}}`),
        );
        break;
      }
    }
    if (c.labelSelector) errs.push(...validateLabelSelector(c.labelSelector, ip.child('labelSelector')));
  });
  return errs;
}

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];

/** ValidatePodSpec. `p` is the path of the spec itself (`spec`, `spec.template.spec`, ...). */
export function validatePodSpec(
  spec: PodSpec | undefined,
  p: FieldPath,
  opts: PodSpecValidationOptions = {},
): FieldError[] {
  const s = (spec ?? {}) as any;
  const errs: FieldError[] = [];
  const vols = validateVolumes(s.volumes, p.child('volumes'));
  errs.push(...vols.errors);
  errs.push(...validateContainers(s.containers, vols.names, p.child('containers'), opts));
  errs.push(...validateInitContainers(s.initContainers, s.containers, vols.names, p.child('initContainers'), opts));
  errs.push(...validateEphemeralContainers(s.ephemeralContainers, s, vols.names, p.child('ephemeralContainers'), opts));
  if (s.hostNetwork && opts.isPod) {
    (s.containers ?? []).forEach((c: any, i: number) => {
      (c.ports ?? []).forEach((port: any, j: number) => {
        if (port.hostPort !== port.containerPort) {
          errs.push(
            invalid(
              p.child('containers').index(i).child('ports').index(j).child('hostPort'),
              port.hostPort ?? 0,
              'must match `containerPort` when `hostNetwork` is true',
            ),
          );
        }
      });
    });
  }
  if (!s.restartPolicy) errs.push(required(p.child('restartPolicy')));
  else if (!RESTART_POLICIES.includes(s.restartPolicy))
    errs.push(notSupported(p.child('restartPolicy'), s.restartPolicy, RESTART_POLICIES));
  if (!s.dnsPolicy) errs.push(required(p.child('dnsPolicy')));
  else if (!DNS_POLICIES.includes(s.dnsPolicy))
    errs.push(notSupported(p.child('dnsPolicy'), s.dnsPolicy, DNS_POLICIES));
  if (s.nodeSelector) errs.push(...validateLabels(s.nodeSelector, p.child('nodeSelector')));
  if (s.securityContext) {
    const sc = s.securityContext;
    const sp = p.child('securityContext');
    errs.push(...validateSecurityContext(sc, sp));
    if (sc.fsGroup !== undefined && sc.fsGroup !== null && (sc.fsGroup < 0 || sc.fsGroup > MAX_INT32)) {
      errs.push(invalid(sp.child('fsGroup'), sc.fsGroup, inclusiveRange(0, MAX_INT32)));
    }
    (sc.supplementalGroups ?? []).forEach((g: number, i: number) => {
      if (g < 0 || g > MAX_INT32)
        errs.push(invalid(sp.child('supplementalGroups').index(i), g, inclusiveRange(0, MAX_INT32)));
    });
    if (sc.shareProcessNamespace && s.hostPID) {
      errs.push(
        invalid(sp.child('shareProcessNamespace'), true, 'ShareProcessNamespace and HostPID cannot both be enabled'),
      );
    }
  }
  (s.imagePullSecrets ?? []).forEach((r: any, i: number) => {
    if (!r.name) errs.push(required(p.child('imagePullSecrets').index(i).child('name')));
  });
  errs.push(...validateAffinity(s.affinity, p.child('affinity')));
  errs.push(...validateDNSConfig(s.dnsConfig, s.dnsPolicy, p.child('dnsConfig')));
  (s.readinessGates ?? []).forEach((g: any, i: number) => {
    errs.push(...validateLabelName(g.conditionType ?? '', p.child('readinessGates').index(i).child('conditionType')));
  });
  const gates = new Set<string>();
  (s.schedulingGates ?? []).forEach((g: any, i: number) => {
    const gp = p.child('schedulingGates').index(i);
    errs.push(...validateLabelName(g.name ?? '', gp));
    if (gates.has(g.name)) errs.push(duplicate(gp, g.name));
    gates.add(g.name);
  });
  errs.push(...validateTopologySpread(s.topologySpreadConstraints, p.child('topologySpreadConstraints')));
  if (s.serviceAccountName) errs.push(...validateDNS1123Subdomain(s.serviceAccountName, p.child('serviceAccountName')));
  if (s.nodeName) errs.push(...validateDNS1123Subdomain(s.nodeName, p.child('nodeName')));
  if (s.activeDeadlineSeconds !== undefined && s.activeDeadlineSeconds !== null) {
    const v = s.activeDeadlineSeconds;
    if (typeof v !== 'number' || v < 1 || v > MAX_INT32)
      errs.push(invalid(p.child('activeDeadlineSeconds'), v, inclusiveRange(1, MAX_INT32)));
  }
  if (s.hostname) errs.push(...validateDNS1123Label(s.hostname, p.child('hostname')));
  if (s.subdomain) errs.push(...validateDNS1123Label(s.subdomain, p.child('subdomain')));
  errs.push(...validateTolerations(s.tolerations, p.child('tolerations')));
  (s.hostAliases ?? []).forEach((h: any, i: number) => {
    const hp = p.child('hostAliases').index(i);
    errs.push(...msgsToInvalid(hp.child('ip'), h.ip, isValidIP(h.ip ?? '')));
    (h.hostnames ?? []).forEach((n: string, j: number) =>
      errs.push(...validateDNS1123Subdomain(n, hp.child('hostnames').index(j))),
    );
  });
  if (s.priorityClassName) errs.push(...validateDNS1123Subdomain(s.priorityClassName, p.child('priorityClassName')));
  if (s.runtimeClassName) errs.push(...validateDNS1123Subdomain(s.runtimeClassName, p.child('runtimeClassName')));
  if (
    s.preemptionPolicy !== undefined &&
    s.preemptionPolicy !== null &&
    !['Never', 'PreemptLowerPriority'].includes(s.preemptionPolicy)
  ) {
    errs.push(notSupported(p.child('preemptionPolicy'), s.preemptionPolicy, ['Never', 'PreemptLowerPriority']));
  }
  if (
    s.terminationGracePeriodSeconds !== undefined &&
    s.terminationGracePeriodSeconds !== null &&
    typeof s.terminationGracePeriodSeconds !== 'number'
  ) {
    errs.push(invalid(p.child('terminationGracePeriodSeconds'), s.terminationGracePeriodSeconds, 'must be an integer'));
  }
  if (s.os) {
    if (!s.os.name) errs.push(required(p.child('os', 'name'), 'cannot be empty'));
    else if (!['linux', 'windows'].includes(s.os.name))
      errs.push(notSupported(p.child('os'), s.os.name, ['linux', 'windows']));
  }
  return errs;
}

/** ValidatePodTemplateSpec: template labels/annotations, the spec, and no ephemeral containers. */
export function validatePodTemplateSpec(
  tpl: PodTemplateSpec | undefined,
  p: FieldPath,
  opts: PodSpecValidationOptions = {},
): FieldError[] {
  if (!tpl) return [required(p)];
  const errs: FieldError[] = [];
  const md = tpl.metadata ?? {};
  if (md.labels) errs.push(...validateLabels(md.labels, p.child('labels')));
  if (md.annotations) errs.push(...validateAnnotations(md.annotations, p.child('annotations')));
  errs.push(...validatePodSpec(tpl.spec, p.child('spec'), opts));
  if (tpl.spec?.ephemeralContainers?.length) {
    errs.push(forbidden(p.child('spec', 'ephemeralContainers'), 'ephemeral containers not allowed in pod template'));
  }
  return errs;
}
