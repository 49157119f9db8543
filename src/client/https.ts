// The HTTPS transport: the same Transport over the Kubernetes REST API, with undici. JSON bodies,
// newline-delimited JSON watch streams, metav1.Status errors turned into ApiErrors.
import { StringDecoder } from 'node:string_decoder';
import { createSecureContext, type SecureContext } from 'node:tls';
// undici is loaded on first use: programs that only talk in process (k8ts server, startCluster)
// never pay for loading it.
import type { Agent } from 'undici';
const undici = () => import('undici');
import type { ServerPool } from './serverpool.js';
import { ApiError } from './errors.js';
import { restClientRequest } from '../machinery/componentmetrics.js';
import { type ClientConfig, loadKubeconfig } from './kubeconfig.js';
import type {
  DeleteOptions,
  DiscoveredResource,
  ListOptions,
  ObjectList,
  PatchOptions,
  PatchType,
  Target,
  Transport,
  Watch,
  WatchEnd,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './types.js';

export interface HttpsOptions {
  /** The component's name: User-Agent and default fieldManager. */
  fieldManager: string;
  /** Per-request timeout for non-watch requests (ms, default 30 s). */
  timeoutMs?: number;
  /** Called with each warning an answer carried (its Warning headers), as client-go's WarningHandler. */
  onWarning?: (message: string) => void;
  /** Servers to fail over between (the agent's list); without it, the kubeconfig's server only. */
  servers?: ServerPool;
  /** Connections per server for requests other than watches (default 32); more requests wait for one. */
  maxConnections?: number;
}

/**
 * Requests share a bounded set of keep-alive connections: unbounded, a burst (thousands of
 * simulated kubelets' heartbeats) opened a TLS connection per request in flight, and on a busy
 * server the handshakes outlasted its handshake timeout, so the client reconnected and the storm
 * fed itself. Watches hold their connection for minutes, so they get a pool of their own.
 */
const DEFAULT_MAX_CONNECTIONS = 32;

/** Errors of a connection that was never made: the request did not reach the server. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);
const notConnected = (err: unknown) => {
  const e = err as { code?: string; cause?: { code?: string } };
  return NOT_CONNECTED.has(e.code ?? '') || NOT_CONNECTED.has(e.cause?.code ?? '');
};

/**
 * How many times a request is sent again (client-go's REST client: maxRetries 10): after a 429 or
 * 5xx answer that carries a Retry-After of whole seconds, whatever the method (the body is kept
 * and sent again), and for a GET whose connection was reset or closed before the answer (after 1 s).
 */
export const MAX_RETRIES = 10;

/** Errors client-go's IsConnectionReset / IsProbableEOF recognise (as undici reports them). */
const BROKEN_CONNECTION = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const connectionBroken = (err: unknown) => {
  const e = err as { code?: string; cause?: { code?: string } };
  return BROKEN_CONNECTION.has(e.code ?? '') || BROKEN_CONNECTION.has(e.cause?.code ?? '');
};

/**
 * The wait (seconds) an answer asks for before the request is sent again, or undefined: as
 * client-go's checkWait, only a 429 or a 5xx with an integer Retry-After.
 */
export function retryAfterSeconds(status: number, header: string | string[] | undefined): number | undefined {
  if (status !== 429 && status < 500) return undefined;
  const h = Array.isArray(header) ? header[0] : header;
  if (h === undefined || !/^[+-]?\d+$/.test(h.trim())) return undefined;
  return Math.max(0, Number(h.trim()));
}

const sleep = (seconds: number) => new Promise((r) => setTimeout(r, seconds * 1000));

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
};

const METADATA_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json';
const METADATA_LIST_ACCEPT = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json';

export function pathOf(t: Target): string {
  const r = t.resource;
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && t.namespace) p += `/namespaces/${encodeURIComponent(t.namespace)}`;
  p += `/${r.plural}`;
  if (t.name) p += `/${encodeURIComponent(t.name)}`;
  if (t.subresource) p += `/${t.subresource}`;
  return p;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && v !== false) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** The texts of `299 - "text"` Warning headers (RFC 7234 quoted strings). */
function warningsOf(header: string | string[] | undefined): string[] {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const out: string[] = [];
  for (const v of values) {
    // Several warnings may share one header, comma-separated.
    for (const m of v.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) out.push(m[1].replace(/\\(.)/g, '$1'));
  }
  // The server sends UTF-8 bytes in a Latin-1 header value.
  return out.map((w) => Buffer.from(w, 'latin1').toString('utf8'));
}

export class HttpsTransport implements Transport {
  readonly kind = 'https';
  readonly fieldManager: string;
  /** For requests (bounded) and for watches (one connection each), made on first use. */
  private pools?: Promise<{ requests: Agent; watches: Agent }>;
  private tls: { ca?: string; cert?: string; key?: string };
  private readonly rejectUnauthorized: boolean;
  private readonly server: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly maxConnections: number;
  private readonly onWarning?: (message: string) => void;
  /** Each open watch's stop, with the connection pools it runs on. */
  private readonly watches = new Map<() => void, Promise<unknown>>();
  private readonly pool?: ServerPool;

  constructor(config: ClientConfig, opts: HttpsOptions) {
    this.fieldManager = opts.fieldManager;
    this.server = config.server;
    this.pool = opts.servers;
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    this.onWarning = opts.onWarning;
    this.tls = { ca: config.ca, cert: config.cert, key: config.key };
    this.rejectUnauthorized = !config.insecureSkipTLSVerify;
    this.headers = { 'user-agent': `${opts.fieldManager}/v0.1.0 (k8ts)`, accept: 'application/json' };
    if (config.token) this.headers.authorization = `Bearer ${config.token}`;
  }

  private dispatchers(): Promise<{ requests: Agent; watches: Agent }> {
    return (this.pools ??= undici().then(({ Agent }) => {
      // One TLS context for every connection: made per connection (parsing the CA, the key and
      // the certificate each time) it cost a simulator of 5,000 nodes most of its CPU.
      const secureContext: SecureContext = createSecureContext(this.tls);
      const connect = {
        secureContext,
        rejectUnauthorized: this.rejectUnauthorized,
        // Connecting may take as long as a request may (undici's own limit is 10 s): a server busy
        // under load accepts late, and a client told to wait minutes should not give up after 10 s.
        timeout: Math.max(10_000, this.timeoutMs),
      };
      return {
        requests: new Agent({ connect, keepAliveTimeout: 30_000, connections: this.maxConnections }),
        watches: new Agent({ connect, keepAliveTimeout: 30_000 }),
      };
    }));
  }

  /**
   * Uses another client certificate from now on (certificate rotation, without a restart): new
   * requests go through new connection pools; requests under way finish on the old ones, which are
   * then closed, and watches on them end as a server timeout would end them, so that their
   * informers resume from where they were, over new connections.
   */
  setClientCertificate(certPem: string, keyPem: string): void {
    this.tls = { ...this.tls, cert: certPem, key: keyPem };
    const old = this.pools;
    this.pools = undefined;
    if (!old) return;
    for (const [stop, pools] of [...this.watches]) if (pools === old) stop();
    void old.then((p) => Promise.all([p.requests.close(), p.watches.close()])).catch(() => undefined);
  }

  /** Presents another bearer token from the next request on (a renewed service-account token). */
  setBearerToken(token: string): void {
    this.headers.authorization = `Bearer ${token}`;
  }

  static fromKubeconfig(path: string, opts: HttpsOptions & { context?: string }): HttpsTransport {
    return new HttpsTransport(loadKubeconfig(path, opts.context), opts);
  }

  private async call(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    accept?: string,
  ): Promise<any> {
    let res;
    let retries = 0;
    for (let attempt = 1; ; attempt++) {
      const server = this.pool?.current ?? this.server;
      try {
        const headers = accept ? { ...this.headers, accept } : this.headers;
        const { request } = await undici();
        res = await request(server + path, {
          method: method as any,
          dispatcher: (await this.dispatchers()).requests,
          headers: body === undefined ? headers : { ...headers, 'content-type': contentType },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
          headersTimeout: this.timeoutMs,
          bodyTimeout: this.timeoutMs,
        });
        restClientRequest(method, server, res.statusCode);
      } catch (err) {
        restClientRequest(method, server, undefined);
        this.pool?.failed(server);
        // A refused connection never reached the server, so even a POST may go to the next one.
        if (this.pool && notConnected(err) && attempt < this.pool.all.length) continue;
        // A GET whose connection broke is sent again after a second (client-go's retry of a
        // reset or EOF: a write may have been applied, so only reads are).
        if (method === 'GET' && connectionBroken(err) && retries < MAX_RETRIES) {
          retries++;
          await sleep(1);
          continue;
        }
        throw new ApiError(503, 'ServiceUnavailable', `${method} ${path}: ${(err as Error).message}`);
      }
      const wait = retries < MAX_RETRIES ? retryAfterSeconds(res.statusCode, res.headers['retry-after']) : undefined;
      if (wait === undefined) break;
      // The answer is read to its end, so its connection is reused for the next try.
      await res.body.dump().catch(() => undefined);
      retries++;
      await sleep(wait);
    }
    if (this.onWarning) for (const w of warningsOf(res.headers.warning)) this.onWarning(w);
    const text = await res.body.text();
    let parsed: any;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.statusCode >= 200 && res.statusCode < 300) return parsed;
    if (parsed?.kind === 'Status') throw ApiError.fromStatus(parsed, res.statusCode);
    throw ApiError.fromStatus(
      { code: res.statusCode, message: text.trim() || `the server responded with status ${res.statusCode}` },
      res.statusCode,
    );
  }

  private writeQuery(opts: PatchOptions | undefined): string {
    return query({
      fieldManager: opts?.fieldManager ?? this.fieldManager,
      dryRun: opts?.dryRun ? 'All' : undefined,
      fieldValidation: opts?.fieldValidation,
      force: opts?.force,
    });
  }

  get(t: Target): Promise<any> {
    return this.call('GET', pathOf(t));
  }

  list(t: Target, opts: ListOptions = {}): Promise<ObjectList> {
    const { asMetadata, omitManagedFields: _ignored, shared: _fresh, ...rest } = opts;
    return this.call(
      'GET',
      pathOf(t) + query({ ...rest }),
      undefined,
      undefined,
      asMetadata ? METADATA_LIST_ACCEPT : undefined,
    );
  }

  watch(t: Target, opts: WatchOptions, onEvent: (ev: WatchEvent) => void): Watch {
    const abort = new AbortController();
    let stopped = false;
    const stop = () => {
      stopped = true;
      abort.abort();
    };
    const pools = this.dispatchers();
    this.watches.set(stop, pools);
    const q = query({
      watch: 1,
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: opts.allowWatchBookmarks,
      sendInitialEvents: opts.sendInitialEvents,
      resourceVersionMatch: opts.sendInitialEvents ? 'NotOlderThan' : undefined,
      timeoutSeconds: opts.timeoutSeconds,
    });
    const server = this.pool?.current ?? this.server;
    const done = (async (): Promise<WatchEnd> => {
      let endError: ApiError | undefined;
      try {
        const { request } = await undici();
        let res;
        // A 429 or 5xx with Retry-After is tried again, as client-go's Watch does (not a broken connection:
        // the informer makes a new watch from where it was).
        for (let retries = 0; ; retries++) {
          res = await request(server + pathOf(t) + q, {
            method: 'GET',
            signal: abort.signal,
            dispatcher: (await pools).watches,
            headers: opts.asMetadata ? { ...this.headers, accept: METADATA_ACCEPT } : this.headers,
            headersTimeout: this.timeoutMs,
            bodyTimeout: 0,
          });
          restClientRequest('GET', server, res.statusCode);
          const wait =
            retries < MAX_RETRIES ? retryAfterSeconds(res.statusCode, res.headers['retry-after']) : undefined;
          if (wait === undefined || stopped) break;
          await res.body.dump().catch(() => undefined);
          await sleep(wait);
          if (stopped) return {};
        }
        if (res.statusCode !== 200) {
          const text = await res.body.text();
          let status: any;
          try {
            status = JSON.parse(text);
          } catch {
            status = { code: res.statusCode, message: text };
          }
          return { error: ApiError.fromStatus(status, res.statusCode) };
        }
        const decoder = new StringDecoder('utf8');
        let pending = '';
        for await (const chunk of res.body) {
          pending += decoder.write(chunk as Buffer);
          let nl: number;
          while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl).trim();
            pending = pending.slice(nl + 1);
            if (!line || stopped) continue;
            const ev = JSON.parse(line) as WatchEvent;
            if (ev.type === 'ERROR') endError = ApiError.fromStatus(ev.object);
            try {
              onEvent(ev);
            } catch {
              // A handler's failure is its own; the stream goes on.
            }
          }
        }
        return endError ? { error: endError } : {};
      } catch (err) {
        if (stopped) return {};
        // The stream broke (the server died): the watch is made again on the next server.
        this.pool?.failed(server);
        return {
          error: endError ?? new ApiError(503, 'ServiceUnavailable', `watch ${pathOf(t)}: ${(err as Error).message}`),
        };
      } finally {
        this.watches.delete(stop);
      }
    })();
    return { stop, done };
  }

  create(t: Target, body: any, opts?: WriteOptions): Promise<any> {
    // POST goes to the collection, or to an object's subresource (binding, eviction).
    const target = t.subresource ? t : { ...t, name: undefined };
    return this.call('POST', pathOf(target) + this.writeQuery(opts), body);
  }

  update(t: Target, body: any, opts?: WriteOptions): Promise<any> {
    return this.call('PUT', pathOf(t) + this.writeQuery(opts), body);
  }

  patch(t: Target, type: PatchType, patch: any, opts?: PatchOptions): Promise<any> {
    return this.call('PATCH', pathOf(t) + this.writeQuery(opts), patch, PATCH_CONTENT_TYPES[type]);
  }

  delete(t: Target, opts: DeleteOptions = {}): Promise<any> {
    const body: any = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.preconditions) body.preconditions = opts.preconditions;
    if (opts.dryRun) body.dryRun = ['All'];
    return this.call('DELETE', pathOf(t), body);
  }

  deleteCollection(t: Target, opts: ListOptions & DeleteOptions = {}): Promise<any> {
    const body: any = { kind: 'DeleteOptions', apiVersion: 'v1' };
    if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.propagationPolicy) body.propagationPolicy = opts.propagationPolicy;
    if (opts.dryRun) body.dryRun = ['All'];
    return this.call(
      'DELETE',
      pathOf({ ...t, name: undefined }) +
        query({ labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector }),
      body,
    );
  }

  async discover(): Promise<DiscoveredResource[]> {
    const out: DiscoveredResource[] = [];
    const add = (group: string, version: string, list: any) => {
      for (const r of list?.resources ?? []) {
        if (String(r.name).includes('/')) continue;
        out.push({ group, version, plural: r.name, namespaced: !!r.namespaced, kind: r.kind, verbs: r.verbs ?? [] });
      }
    };
    const core = await this.call('GET', '/api');
    for (const v of (core?.versions ?? []).slice(0, 1)) add('', v, await this.call('GET', `/api/${v}`));
    const groups = await this.call('GET', '/apis');
    await Promise.all(
      (groups?.groups ?? []).map(async (g: any) => {
        const v = g.preferredVersion?.version ?? g.versions?.[0]?.version;
        if (!v) return;
        add(g.name, v, await this.call('GET', `/apis/${g.name}/${v}`));
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    for (const stop of [...this.watches.keys()]) stop();
    const pools = await this.pools?.catch(() => undefined);
    await Promise.all([pools?.requests.destroy(), pools?.watches.destroy()]).catch(() => undefined);
  }
}
