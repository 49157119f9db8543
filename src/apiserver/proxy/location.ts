// Where pods/proxy, services/proxy and nodes/proxy send a request: upstream's ResourceLocation of
// the pod, service and node REST storage. The name in the URL is "name", "name:port" or
// "scheme:name:port" (scheme http or https); a pod or a service endpoint is reached at its IP
// directly, as upstream's API server dials it; a node at its agent's port (with the API server's
// kubelet-client certificate) or at another port of its address.
import net from 'node:net';
import type tls from 'node:tls';
import type { Endpoints } from 'kubernetes-types/core/v1.js';
import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import * as errors from '../../machinery/errors.js';
import type { ServingApi } from '../serving.js';
import { agentTLSOptions, nodeEndpoint, type KubeletClientConfig } from '../nodeproxy.js';

/** A backend to proxy to. */
export interface ProxyLocation {
  scheme: 'http' | 'https';
  host: string;
  /** Undefined: the scheme's default port. */
  port?: number;
  /** TLS options for https (upstream's proxy transport skips verification except towards the kubelet). */
  tls?: tls.ConnectionOptions;
}

/** Upstream's SplitSchemeNamePort: undefined when the id is not valid. */
export function splitSchemeNamePort(
  id: string,
): { scheme: '' | 'http' | 'https'; name: string; port: string } | undefined {
  const parts = id.split(':');
  let scheme = '';
  let name: string;
  let port = '';
  if (parts.length === 1) [name] = parts;
  else if (parts.length === 2) [name, port] = parts;
  else if (parts.length === 3) [scheme, name, port] = parts;
  else return undefined;
  if (!name || (scheme !== '' && scheme !== 'http' && scheme !== 'https')) return undefined;
  return { scheme: scheme, name, port };
}

/** Go's IP.IsGlobalUnicast: not unspecified, loopback, link-local, multicast or broadcast. */
export function isGlobalUnicast(ip: string): boolean {
  if (net.isIPv4(ip)) {
    const [a, b] = ip.split('.').map(Number);
    return !(a === 0 || a === 127 || (a === 169 && b === 254) || a >= 224);
  }
  if (net.isIPv6(ip)) {
    const v = ip.toLowerCase();
    if (v === '::' || v === '::1') return false;
    return !/^fe[89ab]/.test(v) && !v.startsWith('ff');
  }
  return false;
}

/** A port from the URL: digits only, else the request can't be served. */
function portNumber(port: string, what: string): number {
  const n = Number(port);
  if (!/^\d+$/.test(port) || n < 1 || n > 65535)
    throw errors.badRequest(`invalid ${what} port ${JSON.stringify(port)}`);
  return n;
}

const insecure: tls.ConnectionOptions = { rejectUnauthorized: false };

function withScheme(scheme: '' | 'http' | 'https', host: string, port?: number): ProxyLocation {
  const s = scheme || 'http';
  return { scheme: s, host, port, tls: s === 'https' ? insecure : undefined };
}

/** pods/proxy: the pod's IP and the port named, else its first container's first declared port. */
export function podLocation(api: ServingApi, namespace: string, id: string): ProxyLocation {
  const parsed = splitSchemeNamePort(id);
  if (!parsed) throw errors.badRequest(`invalid pod request ${JSON.stringify(id)}`);
  const pod = api.store('', 'pods').get(namespace, parsed.name).obj as Pod;
  let port = parsed.port;
  if (!port) {
    const first = (pod.spec?.containers ?? []).find((c) => c.ports?.length);
    if (first) port = String(first.ports![0].containerPort);
  }
  const ip = pod.status?.podIP ?? '';
  if (!isGlobalUnicast(ip)) throw errors.badRequest('address not allowed');
  return withScheme(parsed.scheme, ip, port ? portNumber(port, 'pod') : undefined);
}

/** Whether an endpoint address is a pod of this namespace that has that IP (upstream's isValidAddress). */
function isValidAddress(
  api: ServingApi,
  namespace: string,
  addr: { ip: string; targetRef?: { kind?: string; namespace?: string; name?: string } },
): boolean {
  const ref = addr.targetRef;
  if (!ref?.name || ref.namespace !== namespace) return false;
  try {
    const pod = api.store('', 'pods').get(namespace, ref.name).obj as Pod;
    return (pod.status?.podIPs ?? []).some((p) => p.ip === addr.ip);
  } catch {
    return false;
  }
}

const pick = <T>(items: T[], seed = Math.floor(Math.random() * items.length)) =>
  items.map((_, i) => items[(seed + i) % items.length]);

/**
 * services/proxy: a ready endpoint of the service for the port named (by name, or by number
 * through the service's port of that number); 503 when there is none.
 */
export function serviceLocation(api: ServingApi, namespace: string, id: string): ProxyLocation {
  const parsed = splitSchemeNamePort(id);
  if (!parsed) throw errors.badRequest(`invalid service request ${JSON.stringify(id)}`);
  const { name } = parsed;
  let portName = parsed.port;
  if (/^\d+$/.test(portName)) {
    const svc = api.store('', 'services').get(namespace, name).obj as Service;
    const found = (svc.spec?.ports ?? []).find((p) => p.port === Number(portName));
    if (!found)
      throw errors.serviceUnavailable(`no service port ${Number(portName)} found for service ${JSON.stringify(name)}`);
    portName = found.name ?? '';
  }
  const eps = api.store('', 'endpoints').get(namespace, name).obj as Endpoints;
  const subsets = eps.subsets ?? [];
  if (!subsets.length) throw errors.serviceUnavailable(`no endpoints available for service ${JSON.stringify(name)}`);
  for (const ss of pick(subsets)) {
    const addresses = ss.addresses ?? [];
    if (!addresses.length) continue;
    const port = (ss.ports ?? []).find((p) => (p.name ?? '') === portName);
    if (!port) continue;
    const addr = pick(addresses).find((a) => isValidAddress(api, namespace, a));
    if (addr) return withScheme(parsed.scheme, addr.ip, port.port);
  }
  throw errors.serviceUnavailable(`no endpoints available for service ${JSON.stringify(id)}`);
}

/** nodes/proxy: the node's agent (its port, or none named), else the port named at the node's address. */
export function nodeLocation(api: ServingApi, id: string, kubeletClient?: KubeletClientConfig): ProxyLocation {
  const parsed = splitSchemeNamePort(id);
  if (!parsed) throw errors.badRequest(`invalid node request ${JSON.stringify(id)}`);
  const node = api.store('', 'nodes').get(undefined, parsed.name).obj as Node;
  const ep = nodeEndpoint(node);
  if (!parsed.port || Number(parsed.port) === ep.port)
    return { scheme: 'https', host: ep.host, port: ep.port, tls: agentTLSOptions(kubeletClient) };
  return withScheme(parsed.scheme, ep.host, portNumber(parsed.port, 'node'));
}
