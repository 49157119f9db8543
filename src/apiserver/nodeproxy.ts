// The API server's side of the node agents' API (upstream's pods/log, pods/exec, pods/attach,
// pods/portforward REST, and the kubelet client; nodes/proxy is one of the API proxies, proxy/):
//
//   - pods/{name}/log: the options are validated, the container chosen and checked here, then the
//     agent's /containerLogs answer is streamed through (each chunk as it comes, so
//     `kubectl logs -f` shows lines live); an agent error becomes a Status as upstream words it;
//   - exec/attach/portforward: the pod's node is resolved to an address and the kubelet port,
//     a TLS connection to the agent is opened with the API server's kubelet-client certificate,
//     the upgrade request is replayed with the agent's path, and from then on bytes are copied
//     both ways — the agent's answer (101, or a refusal kubectl falls back on) included.
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import * as errors from '../machinery/errors.js';
import {
  forbidden as forbiddenField,
  invalid as invalidField,
  path as fieldPath,
  type FieldError,
} from '../machinery/fielderrors.js';
import { proxyUpgrade, writeRawResponse } from '../machinery/upgradeproxy.js';
import { tunnelSpdyOverWebSocket, tunneledProtocols } from './streamtunnel.js';
import { translateRemoteCommand, translatedProtocol } from './streamtranslator.js';
import { queryBool, sendError } from './http.js';
import type { ResourceRequest } from './requestinfo.js';
import type { RequestScope } from './rest.js';
import type { ServingApi } from './serving.js';
import { rfc3339 } from '../machinery/time.js';

/** The API server's client certificate towards agents, and the CA their serving certificates chain to. */
export interface KubeletClientConfig {
  cert: string;
  key: string;
  ca: string;
}

const STREAMING = new Set(['exec', 'attach', 'portforward']);

interface Endpoint {
  host: string;
  port: number;
}

/** Where a node's agent listens: InternalIP (else Hostname) and daemonEndpoints.kubeletEndpoint.Port. */
export function nodeEndpoint(node: any): Endpoint {
  const addresses: { type: string; address: string }[] = node.status?.addresses ?? [];
  const pick = addresses.find((a) => a.type === 'InternalIP') ?? addresses.find((a) => a.type === 'Hostname');
  if (!pick) {
    throw new errors.ApiError(
      500,
      '',
      `no preferred addresses found; known addresses: [${addresses.map((a) => `{${a.type} ${a.address}}`).join(' ')}]`,
    );
  }
  return { host: pick.address, port: node.status?.daemonEndpoints?.kubeletEndpoint?.Port || 10250 };
}

/** TLS options towards an agent: our client certificate; the agent's certificate checked against the CA unless told not to. */
export function agentTLSOptions(c: KubeletClientConfig | undefined, insecure = false): tls.ConnectionOptions {
  if (!c) return { rejectUnauthorized: false };
  return { cert: c.cert, key: c.key, ca: c.ca, rejectUnauthorized: !insecure };
}

const hostPort = (ep: Endpoint) => (net.isIPv6(ep.host) ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`);

/** Container names of a pod in upstream's visiting order (init, regular, ephemeral). */
function containerNames(pod: any): string[] {
  const s = pod.spec ?? {};
  return [...(s.initContainers ?? []), ...(s.containers ?? []), ...(s.ephemeralContainers ?? [])].map(
    (c: any) => c.name,
  );
}

/** Upstream's validateContainer: the container named, or the pod's only one. */
export function chooseContainer(pod: any, container: string | null | undefined): string {
  const name = pod.metadata.name;
  if (!container) {
    const regular = pod.spec?.containers ?? [];
    if (regular.length === 1) return regular[0].name;
    if (regular.length === 0) throw errors.badRequest(`a container name must be specified for pod ${name}`);
    throw errors.badRequest(
      `a container name must be specified for pod ${name}, choose one of: [${containerNames(pod).join(' ')}]`,
    );
  }
  if (!containerNames(pod).includes(container))
    throw errors.badRequest(`container ${container} is not valid for pod ${name}`);
  return container;
}

/**
 * What the kubelet answers from the pod's status before reading any log (validateContainerLogStatus):
 * a container not started yet, or no previous instance to show.
 */
export function checkLogStatus(pod: any, container: string, previous: boolean): void {
  const podName = pod.metadata.name;
  const st = pod.status ?? {};
  const cs = [
    ...(st.containerStatuses ?? []),
    ...(st.initContainerStatuses ?? []),
    ...(st.ephemeralContainerStatuses ?? []),
  ].find((c: any) => c.name === container);
  const waiting = (reason: string) =>
    errors.badRequest(`container "${container}" in pod "${podName}" is waiting to start: ${reason}`);
  if (!cs) {
    // The agent has not reported the container yet: it is being created (after the init containers).
    const isInit = (pod.spec?.initContainers ?? []).some((c: any) => c.name === container);
    throw waiting(!isInit && (pod.spec?.initContainers ?? []).length ? 'PodInitializing' : 'ContainerCreating');
  }
  const last = cs.lastState?.terminated;
  const state = cs.state ?? {};
  if (previous) {
    if (!last) throw errors.badRequest(`previous terminated container "${container}" in pod "${podName}" not found`);
    return;
  }
  if (state.running || state.terminated || last) return;
  if (state.waiting) {
    const reason = state.waiting.reason;
    if (reason === 'ErrImagePull') throw waiting("image can't be pulled");
    if (reason === 'ImagePullBackOff') throw waiting('trying and failing to pull image');
    throw waiting(reason ?? '');
  }
  throw errors.badRequest(`container "${container}" in pod "${podName}" is waiting to start - no logs yet`);
}

interface PodLogOptions {
  container?: string;
  follow: boolean;
  previous: boolean;
  timestamps: boolean;
  sinceSeconds?: number;
  sinceTime?: string;
  tailLines?: number;
  limitBytes?: number;
  insecureSkipTLSVerifyBackend: boolean;
}

/** PodLogOptions from the query, decoded and validated as upstream (ValidatePodLogOptions). */
export function podLogOptions(q: URLSearchParams, podName: string): PodLogOptions {
  const int = (name: string): number | undefined => {
    const v = q.get(name);
    if (v === null) return undefined;
    if (!/^[+-]?\d+$/.test(v))
      throw errors.badRequest(`strconv.ParseInt: parsing ${JSON.stringify(v)}: invalid syntax`);
    return Number(v);
  };
  let sinceTime: string | undefined;
  const st = q.get('sinceTime');
  if (st !== null && st !== '') {
    const t = new Date(st);
    if (!/^\d{4}-\d\d-\d\dT/.test(st) || Number.isNaN(t.getTime())) {
      throw errors.badRequest(
        `parsing time ${JSON.stringify(st)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(st)} as "2006"`,
      );
    }
    // metav1.Time in a query has second precision.
    sinceTime = rfc3339(t.getTime());
  }
  const opts: PodLogOptions = {
    container: q.get('container') || undefined,
    follow: queryBool(q, 'follow') === true,
    previous: queryBool(q, 'previous') === true,
    timestamps: queryBool(q, 'timestamps') === true,
    sinceSeconds: int('sinceSeconds'),
    sinceTime,
    tailLines: int('tailLines'),
    limitBytes: int('limitBytes'),
    insecureSkipTLSVerifyBackend: queryBool(q, 'insecureSkipTLSVerifyBackend') === true,
  };
  const errs: FieldError[] = [];
  if (opts.tailLines !== undefined && opts.tailLines < 0)
    errs.push(invalidField(fieldPath('tailLines'), opts.tailLines, 'must be greater than or equal to 0'));
  if (opts.limitBytes !== undefined && opts.limitBytes < 1)
    errs.push(invalidField(fieldPath('limitBytes'), opts.limitBytes, 'must be greater than 0'));
  if (opts.sinceSeconds !== undefined && opts.sinceTime !== undefined)
    errs.push(forbiddenField(fieldPath(''), 'at most one of `sinceTime` or `sinceSeconds` may be specified'));
  else if (opts.sinceSeconds !== undefined && opts.sinceSeconds < 1)
    errs.push(invalidField(fieldPath('sinceSeconds'), opts.sinceSeconds, 'must be greater than 0'));
  if (errs.length) throw errors.invalid('', 'PodLogOptions', podName, errs);
  return opts;
}

/** The query the agent gets for a log request (kubelet parameter names). */
function agentLogQuery(o: PodLogOptions): string {
  const q = new URLSearchParams();
  if (o.follow) q.set('follow', 'true');
  if (o.previous) q.set('previous', 'true');
  if (o.timestamps) q.set('timestamps', 'true');
  if (o.sinceSeconds !== undefined) q.set('sinceSeconds', String(o.sinceSeconds));
  if (o.sinceTime !== undefined) q.set('sinceTime', o.sinceTime);
  if (o.tailLines !== undefined) q.set('tailLines', String(o.tailLines));
  if (o.limitBytes !== undefined) q.set('limitBytes', String(o.limitBytes));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** An agent's error answer as upstream's GenericHttpResponseChecker turns it into a Status. */
export function agentError(code: number, body: string, resource: string, name: string): errors.ApiError {
  if (code === 500) return errors.internalError(body);
  if (code === 400) return errors.badRequest(body);
  const messages: Record<number, [string, string]> = {
    401: ['Unauthorized', 'the server has asked for the client to provide credentials'],
    403: ['Forbidden', 'the server does not allow access to the requested resource'],
    404: ['NotFound', 'the server could not find the requested resource'],
    409: ['Conflict', 'the server reported a conflict'],
    422: ['Invalid', 'the server rejected our request due to an error in our request'],
    429: ['TooManyRequests', 'the server has received too many requests and has asked us to try again later'],
    503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
    504: [
      'Timeout',
      'the server was unable to return a response in the time allotted, but may still be processing the request',
    ],
  };
  const [reason, message] = messages[code] ?? [
    '',
    `the server responded with the status code ${code} but did not return more information`,
  ];
  return new errors.ApiError(code, reason, message, {
    name,
    kind: resource,
    causes: body ? [{ reason: 'UnexpectedServerResponse', message: body }] : undefined,
  });
}

export class NodeProxy {
  constructor(
    private readonly api: ServingApi,
    private readonly kubeletClient?: KubeletClientConfig,
  ) {}

  /** Declare the subresources (discovery) and serve their plain HTTP requests. */
  register(): void {
    const set = (
      key: string,
      name: string,
      kind: string,
      verbs: string[],
      handle: (s: RequestScope) => Promise<void>,
    ) => this.api.extraSubresources.set(key, { info: { name, kind, verbs }, handle });
    set('/pods/log', 'log', 'Pod', ['get'], (s) => this.podLog(s));
    // Streaming subresources reach here only without an upgrade: upstream refuses those.
    // eslint-disable-next-line @typescript-eslint/require-await -- a handler reports errors by rejecting
    const refuse = async (s: RequestScope) => {
      this.resolveStreaming(s.info, s.query);
      throw errors.badRequest('Upgrade request required');
    };
    set('/pods/exec', 'exec', 'PodExecOptions', ['create', 'get'], refuse);
    set('/pods/attach', 'attach', 'PodAttachOptions', ['create', 'get'], refuse);
    set('/pods/portforward', 'portforward', 'PodPortForwardOptions', ['create', 'get'], refuse);
  }

  /** Whether an upgrade request is one of ours (the server routes it to upgrade()). */
  handles(info: ResourceRequest): boolean {
    return (
      info.group === '' &&
      info.resource === 'pods' &&
      !!info.name &&
      !!info.subresource &&
      STREAMING.has(info.subresource)
    );
  }

  private node(name: string): any {
    return this.api.store('', 'nodes').get(undefined, name).obj;
  }

  private tlsOptions(insecure = false): tls.ConnectionOptions {
    return agentTLSOptions(this.kubeletClient, insecure);
  }

  private async podLog(scope: RequestScope): Promise<void> {
    const { info, res } = scope;
    if (scope.req.method !== 'GET')
      throw errors.methodNotSupported({ group: '', resource: 'pods/log' }, (scope.req.method ?? '').toLowerCase());
    const name = info.name!;
    const opts = podLogOptions(scope.query, name);
    const pod = this.api.store('', 'pods').get(info.namespace, name).obj;
    const container = chooseContainer(pod, opts.container);
    // Upstream: a pod without a node has no log location, and the answer is empty.
    if (!pod.spec?.nodeName) {
      res.writeHead(204);
      res.end();
      return;
    }
    checkLogStatus(pod, container, opts.previous);
    const ep = nodeEndpoint(this.node(pod.spec.nodeName));
    const path = `/containerLogs/${encodeURIComponent(pod.metadata.namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container)}${agentLogQuery(opts)}`;
    await new Promise<void>((resolve) => {
      const up = https.request({
        host: ep.host,
        port: ep.port,
        path,
        method: 'GET',
        agent: false,
        ...this.tlsOptions(opts.insecureSkipTLSVerifyBackend),
      });
      const fail = (err: unknown) => {
        if (!res.headersSent) sendError(res, err);
        else res.destroy();
        resolve();
      };
      res.once('close', () => {
        up.destroy();
        resolve();
      });
      up.once('error', (err) =>
        fail(new errors.ApiError(500, '', `Get "https://${hostPort(ep)}${path}": ${err.message}`)),
      );
      up.once('response', (ur) => {
        const code = ur.statusCode ?? 500;
        if (code < 200 || code > 206) {
          // Upstream reads at most this much of an error answer.
          const chunks: Buffer[] = [];
          let size = 0;
          ur.on('data', (d: Buffer) => {
            if (size < 50_000) chunks.push(d);
            size += d.length;
          });
          ur.once('end', () =>
            fail(agentError(code, Buffer.concat(chunks).toString('utf8').slice(0, 50_000), 'pods/log', name)),
          );
          ur.once('error', fail);
          return;
        }
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-cache, private' });
        // The status goes out at once: a following client knows the stream is open before any line.
        res.flushHeaders();
        ur.on('data', (d: Buffer) => {
          if (!res.write(d)) {
            ur.pause();
            res.once('drain', () => ur.resume());
          }
        });
        ur.once('end', () => {
          res.end();
          resolve();
        });
        ur.once('error', () => {
          res.destroy();
          resolve();
        });
      });
      up.end();
    });
  }

  /** The agent's path for an exec/attach/portforward request, after upstream's checks. */
  private resolveStreaming(info: ResourceRequest, q: URLSearchParams): { ep: Endpoint; path: string } {
    const name = info.name!;
    const pod = this.api.store('', 'pods').get(info.namespace, name).obj;
    const ns = encodeURIComponent(pod.metadata.namespace);
    const params = new URLSearchParams();
    let path: string;
    if (info.subresource === 'portforward') {
      const ports = q
        .getAll('ports')
        .flatMap((p) => p.split(','))
        .filter(Boolean);
      if (ports.length) params.set('port', ports.join(','));
      path = `/portForward/${ns}/${encodeURIComponent(name)}`;
    } else {
      const container = chooseContainer(pod, q.get('container'));
      // The kubelet's parameter names: input/output/error/tty set to "1", command repeated.
      if (queryBool(q, 'stdin')) params.set('input', '1');
      if (queryBool(q, 'stdout')) params.set('output', '1');
      if (queryBool(q, 'stderr')) params.set('error', '1');
      if (queryBool(q, 'tty')) params.set('tty', '1');
      if (info.subresource === 'exec') for (const c of q.getAll('command')) params.append('command', c);
      path = `/${info.subresource}/${ns}/${encodeURIComponent(name)}/${encodeURIComponent(container)}`;
    }
    if (!pod.spec?.nodeName) throw errors.badRequest(`pod ${name} does not have a host assigned`);
    const ep = nodeEndpoint(this.node(pod.spec.nodeName));
    const qs = params.toString();
    return { ep, path: qs ? `${path}?${qs}` : path };
  }

  /**
   * An exec/attach/portforward upgrade: errors found before the agent is contacted are thrown
   * (the caller answers them as a Status); after that the connection belongs to the proxy.
   */
  upgrade(info: ResourceRequest, query: URLSearchParams, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { ep, path } = this.resolveStreaming(info, query);
    const tlsOpts = this.tlsOptions();
    const target = {
      host: hostPort(ep),
      path,
      dial: () =>
        new Promise<Duplex>((resolve, reject) => {
          const s = tls.connect(
            { host: ep.host, port: ep.port, servername: net.isIP(ep.host) ? undefined : ep.host, ...tlsOpts },
            () => resolve(s),
          );
          s.once('error', reject);
          s.setNoDelay(true);
        }),
      onDialError: (err: Error, client: Duplex) => {
        const status = new errors.ApiError(500, '', `error dialing backend: ${err.message}`);
        writeRawResponse(client, 500, status.toStatusJSON(), 'application/json');
      },
    };
    // kubectl 1.31+ tunnels port-forward's SPDY inside a WebSocket: the agent gets plain SPDY.
    // A plain WebSocket port-forward (the Python client's) goes through like any upgrade.
    if (info.subresource === 'portforward' && tunneledProtocols(req).length)
      return tunnelSpdyOverWebSocket(req, socket, head, target, this.api.log);
    // Exec and attach over WebSocket v5/v4: the API server speaks WebSocket to the client and
    // SPDY to the agent, whatever the runtime's streaming server would accept.
    if (info.subresource !== 'portforward' && translatedProtocol(req)) {
      const opts = {
        stdin: queryBool(query, 'stdin') === true,
        stdout: queryBool(query, 'stdout') === true,
        stderr: queryBool(query, 'stderr') === true,
        tty: queryBool(query, 'tty') === true,
      };
      return translateRemoteCommand(req, socket, head, target, opts, this.api.log);
    }
    proxyUpgrade(req, socket, head, target, this.api.log);
  }
}

/** Serve pods/log and pods/exec|attach|portforward on a server. */
export function registerNodeProxy(api: ServingApi, kubeletClient?: KubeletClientConfig): NodeProxy {
  const proxy = new NodeProxy(api, kubeletClient);
  proxy.register();
  return proxy;
}
