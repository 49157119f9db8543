// Front-proxy (request header) authentication, as kube-apiserver's --requestheader-* flags: a
// client certificate that chains to the request-header CA, with a common name from the allowed
// list (any, when the list is empty), lets the request name its user in headers (X-Remote-User,
// X-Remote-Group, X-Remote-Extra-*). The certificate itself names nobody: without the user header
// (or with a name not allowed) the request goes on to the other authenticators, as upstream's.
import { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { UserInfo } from './types.js';

export interface RequestHeaderOptions {
  /** PEM bundle of the CAs that sign front-proxy client certificates (--requestheader-client-ca-file). */
  clientCA: string;
  /** Common names a front-proxy certificate may carry (--requestheader-allowed-names); empty: any. */
  allowedNames: string[];
  /** Headers naming the user, the first one set wins (--requestheader-username-headers). */
  usernameHeaders: string[];
  /** Headers carrying the user's UID (--requestheader-uid-headers). */
  uidHeaders: string[];
  /** Headers whose every value is a group (--requestheader-group-headers). */
  groupHeaders: string[];
  /** Prefixes of headers carrying extra attributes (--requestheader-extra-headers-prefix). */
  extraHeaderPrefixes: string[];
}

/** The header names k3s and kubeadm configure (and the aggregator sends, proxy.ts). */
export const DEFAULT_REQUEST_HEADERS = {
  usernameHeaders: ['X-Remote-User'],
  uidHeaders: [] as string[],
  groupHeaders: ['X-Remote-Group'],
  extraHeaderPrefixes: ['X-Remote-Extra-'],
};

/** Header names trimmed; an empty one is refused, as upstream's trimHeaders. */
export function trimHeaderNames(names: string[], flag: string): string[] {
  return names.map((n) => {
    const t = n.trim();
    if (!t) throw new Error(`${flag}: empty header ${JSON.stringify(n)}`);
    return t;
  });
}

/** The certificates of a PEM bundle, each as its own PEM block. */
export function pemCertificates(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** SHA-256 fingerprints (Node's `AA:BB:...` spelling, as a peer certificate reports it) of a bundle. */
export function fingerprints(bundle: string): Set<string> {
  return new Set(pemCertificates(bundle).map((pem) => new X509Certificate(pem).fingerprint256));
}

/** Every value of every header named (rawHeaders keeps repeated headers apart; `headers` joins them). */
function valuesOf(req: IncomingMessage, names: Set<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    if (!names.has(name)) continue;
    const list = out.get(name) ?? [];
    list.push(raw[i + 1]);
    out.set(name, list);
  }
  return out;
}

/** Go's url.PathUnescape of an extra key; a malformed one is kept as it is. */
function unescapeExtraKey(key: string): string {
  if (/%(?![0-9A-Fa-f]{2})/.test(key)) return key;
  try {
    return decodeURIComponent(key);
  } catch {
    return key;
  }
}

export class RequestHeaderAuthenticator {
  /** Fingerprints of the request-header CAs: a peer chain ending at one of them is a front proxy. */
  readonly trusted: Set<string>;
  private readonly allowed: Set<string>;

  constructor(readonly options: RequestHeaderOptions) {
    this.trusted = fingerprints(options.clientCA);
    this.allowed = new Set(options.allowedNames);
  }

  /** Upstream's verifySubject: an empty list allows every common name. */
  allows(commonName: string): boolean {
    return this.allowed.size === 0 || this.allowed.has(commonName);
  }

  /**
   * The user a front proxy (already verified, with common name `commonName`) asserts in the
   * request's headers, or undefined (no user header, or a name not allowed). The identity headers
   * are removed from the request once read, so nothing downstream (a proxied pod, an extension
   * server) sees them.
   */
  authenticate(req: IncomingMessage, commonName: string): UserInfo | undefined {
    if (!this.allows(commonName)) return undefined;
    const o = this.options;
    const lower = (names: string[]) => names.map((n) => n.toLowerCase());
    const named = new Set([...lower(o.usernameHeaders), ...lower(o.uidHeaders), ...lower(o.groupHeaders)]);
    const values = valuesOf(req, named);
    // Go's Header.Get: the first value of the first header that has a non-empty one.
    const first = (names: string[]) => {
      for (const n of lower(names)) {
        const v = values.get(n)?.[0];
        if (v) return v;
      }
      return '';
    };
    const name = first(o.usernameHeaders);
    if (!name) return undefined;
    const uid = first(o.uidHeaders);
    const groups: string[] = [];
    for (const n of lower(o.groupHeaders)) for (const v of values.get(n) ?? []) if (v) groups.push(v);
    const extra: Record<string, string[]> = {};
    const prefixes = lower(o.extraHeaderPrefixes);
    const raw = req.rawHeaders;
    for (const prefix of prefixes) {
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const header = raw[i].toLowerCase();
        if (!header.startsWith(prefix)) continue;
        const key = unescapeExtraKey(header.slice(prefix.length));
        (extra[key] ??= []).push(raw[i + 1]);
      }
    }
    this.clearHeaders(req, named, prefixes);
    const user: UserInfo = { name, groups };
    if (uid) user.uid = uid;
    if (Object.keys(extra).length) user.extra = extra;
    return user;
  }

  private clearHeaders(req: IncomingMessage, named: Set<string>, prefixes: string[]): void {
    const identity = (header: string) => {
      const h = header.toLowerCase();
      return named.has(h) || prefixes.some((p) => h.startsWith(p));
    };
    for (const h of Object.keys(req.headers)) if (identity(h)) delete req.headers[h];
    const raw = req.rawHeaders;
    for (let i = raw.length - 2; i >= 0; i -= 2) if (identity(raw[i])) raw.splice(i, 2);
  }
}

/** The --requestheader-* flags as given (unset: k8ts's defaults, below). */
export interface RequestHeaderSettings {
  clientCAFile?: string;
  allowedNames?: string[];
  usernameHeaders?: string[];
  uidHeaders?: string[];
  groupHeaders?: string[];
  extraHeadersPrefix?: string[];
}

/**
 * The options in force: with --requestheader-client-ca-file, that file's CAs and the allowed names
 * given (none: any); without it, the server's own request-header CA and its front-proxy client's
 * name, as k3s configures kube-apiserver. Header names default to X-Remote-* either way.
 */
export function requestHeaderOptions(
  flags: RequestHeaderSettings,
  own: { caPem: string; commonName: string },
  readFile: (path: string) => string,
): RequestHeaderOptions {
  const clientCA = flags.clientCAFile ? readFile(flags.clientCAFile) : own.caPem;
  if (!pemCertificates(clientCA).length)
    throw new Error(`--requestheader-client-ca-file: no certificate in ${flags.clientCAFile}`);
  const or = (v: string[] | undefined, d: string[]) => (v?.length ? v : d);
  return {
    clientCA,
    allowedNames: flags.clientCAFile ? (flags.allowedNames ?? []) : or(flags.allowedNames, [own.commonName]),
    usernameHeaders: trimHeaderNames(
      or(flags.usernameHeaders, DEFAULT_REQUEST_HEADERS.usernameHeaders),
      '--requestheader-username-headers',
    ),
    uidHeaders: trimHeaderNames(
      or(flags.uidHeaders, DEFAULT_REQUEST_HEADERS.uidHeaders),
      '--requestheader-uid-headers',
    ),
    groupHeaders: trimHeaderNames(
      or(flags.groupHeaders, DEFAULT_REQUEST_HEADERS.groupHeaders),
      '--requestheader-group-headers',
    ),
    extraHeaderPrefixes: trimHeaderNames(
      or(flags.extraHeadersPrefix, DEFAULT_REQUEST_HEADERS.extraHeaderPrefixes),
      '--requestheader-extra-headers-prefix',
    ),
  };
}
