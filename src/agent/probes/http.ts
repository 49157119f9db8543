// httpGet probe with the kubelet's semantics:
//   - URL scheme://host:port/path, host defaulting to the pod IP, port possibly a named port;
//   - user headers sent as given (a "Host" header overrides the request host), plus
//     `User-Agent: kube-probe/<major>.<minor>` and `Accept: */*` unless the user set them
//     (an explicitly empty Accept removes the header);
//   - no keep-alive, no certificate verification for HTTPS;
//   - redirects followed only while they stay on the same hostname; a redirect elsewhere ends the
//     probe with the 3xx response, which counts as success with a warning;
//   - 200 <= status < 400 is healthy; at most 10 KiB of the body is read;
//   - one timeout covers connecting, all redirects and reading the body (Go's Client.Timeout).
// Messages reproduce what Go's net/http prints, since users see them in events.

import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Container, HTTPGetAction } from 'kubernetes-types/core/v1.js';
import { connErrorMessage, dialErrorMessage, goQuote, isDialError, joinHostPort } from './goerrors.js';
import { resolveContainerPort } from './port.js';
import { MAX_PROBE_OUTPUT, PROBE_USER_AGENT, type ProbeContext, type ProbeOutcome } from './types.js';

/** Header name -> values, with names in Go's canonical form ("x-foo" -> "X-Foo"). */
export type ProbeHeaders = Map<string, string[]>;

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);
/** Go's default redirect policy gives up when this many requests have been made. */
const MAX_REDIRECT_VIA = 10;

/** Go's textproto.CanonicalMIMEHeaderKey: capitalise each dash-separated word of a token. */
export function canonicalHeaderKey(name: string): string {
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return name;
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/** Builds the request URL the kubelet would probe, e.g. `http://10.42.0.5:8080/healthz`. */
export function httpProbeUrl(
  action: HTTPGetAction,
  container: Container,
  podIP: string,
): { url: string } | { error: string } {
  const resolved = resolveContainerPort(action.port, container);
  if ('error' in resolved) return resolved;
  const scheme = (action.scheme || 'HTTP').toLowerCase();
  const host = action.host || podIP;
  const path = action.path ?? '';
  const sep = path === '' || path.startsWith('/') ? '' : '/';
  return { url: `${scheme}://${joinHostPort(host, resolved.port)}${sep}${path}` };
}

/** The headers of a probe request: the user's, then the kubelet's defaults. */
export function httpProbeHeaders(action: HTTPGetAction): ProbeHeaders {
  const headers: ProbeHeaders = new Map();
  for (const h of action.httpHeaders ?? []) {
    const key = canonicalHeaderKey(h.name);
    const values = headers.get(key);
    if (values) values.push(h.value);
    else headers.set(key, [h.value]);
  }
  if (!headers.has('User-Agent')) headers.set('User-Agent', [PROBE_USER_AGENT]);
  const accept = headers.get('Accept');
  if (!accept) headers.set('Accept', ['*/*']);
  else if (accept[0] === '') headers.delete('Accept');
  return headers;
}

type Sent = { res: http.IncomingMessage } | { failure: string };

/** Strips the brackets WHATWG URL keeps around IPv6 hostnames. */
function bareHost(u: URL): string {
  return u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
}

function defaultPort(u: URL): number {
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

/**
 * Go prints request URLs with the explicit port even when it is the scheme's default, and
 * without a trailing slash for an empty path; WHATWG URL would normalise both away.
 */
function displayUrl(u: URL, emptyPath: boolean): string {
  const path = emptyPath ? '' : u.pathname + u.search;
  return `${u.protocol}//${joinHostPort(bareHost(u), defaultPort(u))}${path}`;
}

/** Sends one GET and resolves with the response head, or with Go's text for why none came. */
function send(target: URL, headers: ProbeHeaders, host: string | undefined, deadline: number): Promise<Sent> {
  return new Promise((resolve) => {
    const hostname = bareHost(target);
    const port = defaultPort(target);
    const out: http.OutgoingHttpHeaders = {};
    for (const [key, values] of headers) {
      if (key === 'Host') continue;
      // Go omits a User-Agent that was set to the empty string.
      if (key === 'User-Agent' && values[0] === '') continue;
      out[key] = values.length === 1 ? values[0] : values;
    }
    if (host) out.Host = host;
    if (!headers.has('Connection')) out.Connection = 'close';
    const options: https.RequestOptions = {
      method: 'GET',
      hostname,
      port,
      path: target.pathname + target.search,
      headers: out,
      agent: false,
      rejectUnauthorized: false,
      // SNI carries the URL host, never an IP (TLS forbids IP server names).
      servername: isIP(hostname) ? '' : hostname,
    };
    let settled = false;
    const settle = (value: Sent): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    let req: http.ClientRequest;
    try {
      req = target.protocol === 'https:' ? https.request(options) : http.request(options);
    } catch (err) {
      // Invalid header names/values are rejected before anything is sent.
      settle({ failure: err instanceof Error ? err.message : String(err) });
      return;
    }
    const timer = setTimeout(
      () => {
        settle({ failure: 'context deadline exceeded (Client.Timeout exceeded while awaiting headers)' });
        req.destroy();
      },
      Math.max(0, deadline - Date.now()),
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      settle({ failure: isDialError(err) ? dialErrorMessage(hostname, port, err) : connErrorMessage(err) });
    });
    req.on('response', (res) => {
      if (settled) {
        res.destroy();
        return;
      }
      settle({ res });
    });
    req.end();
  });
}

type Body = { body: string } | { error: string };

/** Reads at most MAX_PROBE_OUTPUT bytes of the body, then drops the connection. */
function readBody(res: http.IncomingMessage, deadline: number): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (value: Body): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      res.removeAllListeners('data');
      res.destroy();
      resolve(value);
    };
    const text = (): string => Buffer.concat(chunks).subarray(0, MAX_PROBE_OUTPUT).toString('utf8');
    const timer = setTimeout(
      () =>
        settle({
          error: 'net/http: request canceled (Client.Timeout or context cancellation while reading body)',
        }),
      Math.max(0, deadline - Date.now()),
    );
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      // Reaching the limit is not an error upstream: the probe just stops reading.
      if (size >= MAX_PROBE_OUTPUT) settle({ body: text() });
    });
    res.on('end', () => settle({ body: text() }));
    res.on('error', () => settle({ error: 'unexpected EOF' }));
    res.on('aborted', () => settle({ error: 'unexpected EOF' }));
  });
}

/** Performs an HTTP probe of `url` (as built by httpProbeUrl) with the given headers. */
export async function httpProbe(url: string, headers: ProbeHeaders, timeoutMs: number): Promise<ProbeOutcome> {
  const deadline = Date.now() + timeoutMs;
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return { result: 'failure', output: `parse ${goQuote(url)}: invalid URL` };
  }
  let shown = displayUrl(target, /^[a-z]+:\/\/[^/?#]*$/i.test(url));
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    return {
      result: 'failure',
      output: `Get ${goQuote(shown)}: unsupported protocol scheme ${goQuote(target.protocol.slice(0, -1))}`,
    };
  }
  const firstHostname = bareHost(target);
  const hostOverride = headers.get('Host')?.[0] || undefined;
  let host = hostOverride;
  let requests = 0;
  for (;;) {
    const sent = await send(target, headers, host, deadline);
    requests += 1;
    if ('failure' in sent) return { result: 'failure', output: `Get ${goQuote(shown)}: ${sent.failure}` };
    const { res } = sent;
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECT_CODES.has(status) && location) {
      let next: URL;
      try {
        next = new URL(location, target);
      } catch {
        res.destroy();
        return {
          result: 'failure',
          output: `Get ${goQuote(shown)}: failed to parse Location header ${goQuote(location)}`,
        };
      }
      // A different hostname ends the chain with this 3xx response (reported as a warning below).
      if (bareHost(next) === firstHostname) {
        res.destroy();
        shown = displayUrl(next, false);
        if (requests >= MAX_REDIRECT_VIA) {
          return { result: 'failure', output: `Get ${goQuote(shown)}: stopped after ${MAX_REDIRECT_VIA} redirects` };
        }
        // Go keeps a custom Host header across a redirect only when the Location is relative.
        const relative = !/^[a-z][a-z0-9+.-]*:/i.test(location);
        host = relative ? hostOverride : undefined;
        target = next;
        continue;
      }
    }
    const read = await readBody(res, deadline);
    // A body that cannot be read is a probe error upstream (discarded, not counted).
    if ('error' in read) return { result: 'error', output: read.error };
    if (status >= 200 && status < 400) {
      if (status >= 300)
        return { result: 'warning', output: `Probe terminated redirects, Response body: ${read.body}` };
      return { result: 'success', output: read.body };
    }
    return { result: 'failure', output: `HTTP probe failed with statuscode: ${status}` };
  }
}

export function runHttpProbe(action: HTTPGetAction, ctx: ProbeContext): Promise<ProbeOutcome> {
  const built = httpProbeUrl(action, ctx.container, ctx.podIP);
  if ('error' in built) return Promise.resolve({ result: 'error', output: built.error });
  return httpProbe(built.url, httpProbeHeaders(action), ctx.timeoutMs);
}
