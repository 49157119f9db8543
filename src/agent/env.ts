// A container's environment, computed the way the kubelet does it (makeEnvironmentVariables):
//
//   1. envFrom, in order: every key of the ConfigMap/Secret (with the prefix); keys that are not
//      valid variable names are skipped and reported once per source.
//   2. env, in order: literal values with $(VAR) expanded against what is defined so far (and
//      service variables), or values from ConfigMap/Secret keys, pod fields and resources.
//   3. service variables (FOO_SERVICE_HOST, docker links) not already defined by 1 and 2.
//
// A later definition of a name replaces an earlier one's value but keeps its position.
import type { Container, EnvVar, Pod, Service } from 'kubernetes-types/core/v1.js';
import type { Client } from '../client/client.js';
import { isEnvVarName } from '../machinery/validation.js';
import { containerResourceValue, extractFieldPath, type Allocatable } from './volumes/downward.js';
import { configMapData, isSourceNotFound, secretData, SourceReader, type KeyData } from './volumes/sources.js';
import { compareStrings } from '../machinery/order.js';

export interface EnvContext {
  client: Client;
  nodeName: string;
  hostIP: string;
  hostIPs?: string[];
  podIP: string;
  podIPs?: string[];
  /**
   * Services to derive service link variables from (any namespaces; the pod's own and
   * default/kubernetes are picked out). Undefined: no service variables.
   */
  services?: Service[];
  /** Node allocatable, used for resourceFieldRef limits the container does not set. */
  nodeAllocatable?: Allocatable;
  /** Receives warnings the kubelet turns into pod events (reason, message). */
  onWarning?: (reason: string, message: string) => void;
}

export interface KeyValue {
  key: string;
  value: string;
}

/** Failure to build a container's configuration; the container waits with this reason. */
export class ContainerConfigError extends Error {
  readonly reason = 'CreateContainerConfigError';
  constructor(message: string) {
    super(message);
    this.name = 'ContainerConfigError';
  }
}

/**
 * Kubernetes' $(VAR) expansion: `$(NAME)` is replaced by mapping(NAME), `$$` is a literal `$`,
 * and anything else (an unclosed `$(`, a `$` before another character) is kept as written.
 */
export function expand(input: string, mapping: (name: string) => string): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const c = input[i];
    if (c !== '$' || i + 1 >= input.length) {
      out += c;
      i++;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
    } else if (next === '(') {
      const close = input.indexOf(')', i + 2);
      if (close < 0) {
        out += '$(';
        i += 2;
      } else {
        out += mapping(input.slice(i + 2, close));
        i = close + 1;
      }
    } else {
      out += '$' + next;
      i += 2;
    }
  }
  return out;
}

/** A mapping over maps in priority order that leaves unknown references as written. */
export function mappingFor(...maps: Map<string, string>[]): (name: string) => string {
  return (name) => {
    for (const m of maps) {
      const v = m.get(name);
      if (v !== undefined) return v;
    }
    return `$(${name})`;
  };
}

const envName = (s: string) => s.toUpperCase().replace(/-/g, '_');
const hasClusterIP = (s: Service) => !!s.spec?.clusterIP && s.spec.clusterIP !== 'None';
const joinHostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** The variables of one service: {NAME}_SERVICE_HOST/PORT[_PORTNAME] and the docker link set. */
export function serviceVars(svc: Service): KeyValue[] {
  const out: KeyValue[] = [];
  const prefix = envName(svc.metadata?.name ?? '');
  const ip = svc.spec!.clusterIP!;
  const ports = svc.spec?.ports ?? [];
  out.push({ key: `${prefix}_SERVICE_HOST`, value: ip });
  if (ports.length) out.push({ key: `${prefix}_SERVICE_PORT`, value: String(ports[0].port) });
  for (const p of ports)
    if (p.name) out.push({ key: `${prefix}_SERVICE_PORT_${envName(p.name)}`, value: String(p.port) });
  ports.forEach((p, i) => {
    const proto = p.protocol ?? 'TCP';
    const url = `${proto.toLowerCase()}://${joinHostPort(ip, p.port)}`;
    // Docker links special-case the first port.
    if (i === 0) out.push({ key: `${prefix}_PORT`, value: url });
    const pp = `${prefix}_PORT_${p.port}_${proto.toUpperCase()}`;
    out.push(
      { key: pp, value: url },
      { key: `${pp}_PROTO`, value: proto.toLowerCase() },
      { key: `${pp}_PORT`, value: String(p.port) },
      { key: `${pp}_ADDR`, value: ip },
    );
  });
  return out;
}

/**
 * Service variables for a pod in `ns`: always the default/kubernetes service (so in-cluster
 * clients find the API), plus the namespace's services when enableServiceLinks is not false.
 * Headless and ExternalName services (no cluster IP) give none.
 */
export function serviceEnv(services: Service[], ns: string, enableServiceLinks: boolean): Map<string, string> {
  const chosen = new Map<string, Service>();
  for (const s of services) {
    if (!hasClusterIP(s)) continue;
    const name = s.metadata?.name ?? '';
    if (s.metadata?.namespace === 'default' && name === 'kubernetes') {
      if (!chosen.has(name)) chosen.set(name, s);
    } else if (s.metadata?.namespace === ns && enableServiceLinks) {
      // The pod's own namespace wins over the master service of the same name.
      chosen.set(name, s);
    }
  }
  const out = new Map<string, string>();
  const sorted = [...chosen.values()].sort((a, b) => compareStrings(a.metadata!.name!, b.metadata!.name!));
  for (const s of sorted) for (const kv of serviceVars(s)) out.set(kv.key, kv.value);
  return out;
}

/** Pod fields an env var may reference: the downward API's metadata plus node/network facts. */
function podFieldValue(pod: Pod, fieldPath: string, ctx: EnvContext): string {
  const hostIPs = ctx.hostIPs?.length ? ctx.hostIPs : ctx.hostIP ? [ctx.hostIP] : [];
  const podIPs = ctx.podIPs?.length ? ctx.podIPs : ctx.podIP ? [ctx.podIP] : [];
  switch (fieldPath) {
    case 'spec.nodeName':
      return pod.spec?.nodeName || ctx.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP':
      return hostIPs[0] ?? '';
    case 'status.hostIPs':
      return hostIPs.join(',');
    case 'status.podIP':
      return podIPs[0] ?? '';
    case 'status.podIPs':
      return podIPs.join(',');
  }
  return extractFieldPath(pod, fieldPath);
}

async function keyData(p: Promise<KeyData>, optional: boolean): Promise<KeyData | undefined> {
  try {
    return await p;
  } catch (e) {
    if (optional && isSourceNotFound(e)) return undefined;
    throw e;
  }
}

/** The environment of one container, in the order described at the top. */
export async function containerEnv(pod: Pod, container: Container, ctx: EnvContext): Promise<KeyValue[]> {
  try {
    return await build(pod, container, ctx);
  } catch (e) {
    if (e instanceof ContainerConfigError) throw e;
    throw new ContainerConfigError((e as Error).message);
  }
}

async function build(pod: Pod, container: Container, ctx: EnvContext): Promise<KeyValue[]> {
  const ns = pod.metadata?.namespace ?? 'default';
  const reader = new SourceReader(ctx.client);
  const svcEnv = ctx.services
    ? serviceEnv(ctx.services, ns, pod.spec?.enableServiceLinks !== false)
    : new Map<string, string>();
  const env = new Map<string, string>();
  const mapping = mappingFor(env, svcEnv);

  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref) continue;
    const isCM = !!from.configMapRef;
    const name = ref.name ?? '';
    const data = await keyData(
      isCM ? reader.configMap(ns, name).then(configMapData) : reader.secret(ns, name).then(secretData),
      ref.optional === true,
    );
    if (!data) continue;
    const invalid: string[] = [];
    for (const [k, v] of data.strings) {
      const key = (from.prefix ?? '') + k;
      if (isEnvVarName(key).length) {
        invalid.push(key);
        continue;
      }
      env.set(key, v);
    }
    if (invalid.length) {
      invalid.sort();
      ctx.onWarning?.(
        'InvalidEnvironmentVariableNames',
        `Keys [${invalid.join(', ')}] from the EnvFrom ${isCM ? 'configMap' : 'secret'} ${ns}/${name} were skipped since they are considered invalid environment variable names.`,
      );
    }
  }

  for (const v of container.env ?? []) {
    const value = await envValue(v, pod, container, ctx, reader, mapping, ns);
    if (value !== undefined) env.set(v.name, value);
  }

  const out: KeyValue[] = [...env].map(([key, value]) => ({ key, value }));
  for (const [key, value] of svcEnv) if (!env.has(key)) out.push({ key, value });
  return out;
}

/** One env entry's value; undefined when an optional source is missing (the variable is left out). */
async function envValue(
  v: EnvVar,
  pod: Pod,
  container: Container,
  ctx: EnvContext,
  reader: SourceReader,
  mapping: (name: string) => string,
  ns: string,
): Promise<string | undefined> {
  if (v.value) return expand(v.value, mapping);
  const from = v.valueFrom;
  if (!from) return '';
  if (from.fieldRef) return podFieldValue(pod, from.fieldRef.fieldPath, ctx);
  if (from.resourceFieldRef) return containerResourceValue(from.resourceFieldRef, pod, container, ctx.nodeAllocatable);
  const keyRef = from.configMapKeyRef ?? from.secretKeyRef;
  if (keyRef) {
    const isCM = !!from.configMapKeyRef;
    const name = keyRef.name ?? '';
    const optional = keyRef.optional === true;
    const data = await keyData(
      isCM ? reader.configMap(ns, name).then(configMapData) : reader.secret(ns, name).then(secretData),
      optional,
    );
    if (!data) return undefined;
    const value = data.strings.get(keyRef.key);
    if (value === undefined) {
      if (optional) return undefined;
      throw new ContainerConfigError(
        `couldn't find key ${keyRef.key} in ${isCM ? 'ConfigMap' : 'Secret'} ${ns}/${name}`,
      );
    }
    return value;
  }
  return '';
}
