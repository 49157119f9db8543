// The ingress-nginx annotations k8ts understands (nginx.ingress.kubernetes.io/*), parsed once per
// Ingress into typed options. Unknown annotations are ignored, as ingress-nginx ignores those of
// other controllers; a value that cannot be parsed falls back to the default and is reported.
import type { Ingress } from 'kubernetes-types/networking/v1.js';

export const ANNOTATION_PREFIX = 'nginx.ingress.kubernetes.io/';

export type BackendProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPCS';

export interface CanaryOptions {
  weight: number;
  weightTotal: number;
  byHeader?: string;
  byHeaderValue?: string;
}

export interface CorsOptions {
  allowOrigin: string;
  allowMethods: string;
  allowHeaders: string;
  allowCredentials: boolean;
  maxAge: number;
  exposeHeaders?: string;
}

export interface RouteOptions {
  rewriteTarget?: string;
  useRegex: boolean;
  /** Redirect plain HTTP to HTTPS when the host has TLS (ingress-nginx default true). */
  sslRedirect: boolean;
  /** Redirect to HTTPS even without TLS on the host. */
  forceSslRedirect: boolean;
  backendProtocol: BackendProtocol;
  /** namespace/name of the htpasswd Secret when auth-type is basic. */
  basicAuth?: { secret: { namespace: string; name: string }; realm: string; secretType: 'auth-file' | 'auth-map' };
  canary?: CanaryOptions;
  /** Allowed client ranges ([] = everyone). */
  allowSourceRanges: string[];
  /** Largest request body in bytes (0 = unlimited). */
  maxBodyBytes: number;
  connectTimeoutMs: number;
  readTimeoutMs: number;
  sendTimeoutMs: number;
  permanentRedirect?: { location: string; code: number };
  appRoot?: string;
  cors?: CorsOptions;
}

export const DEFAULT_ROUTE_OPTIONS: RouteOptions = {
  useRegex: false,
  sslRedirect: true,
  forceSslRedirect: false,
  backendProtocol: 'HTTP',
  allowSourceRanges: [],
  maxBodyBytes: 1024 * 1024,
  connectTimeoutMs: 5_000,
  readTimeoutMs: 60_000,
  sendTimeoutMs: 60_000,
};

/** nginx size syntax: 8k, 1m, 2g or plain bytes; "0" means unlimited. */
export function parseNginxSize(s: string): number | undefined {
  const m = /^\s*(\d+)\s*([kKmMgG]?)\s*$/.exec(s);
  if (!m) return undefined;
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Number(m[1]) * unit;
}

const parseBool = (s: string): boolean | undefined => (s === 'true' ? true : s === 'false' ? false : undefined);

export interface ParsedAnnotations {
  options: RouteOptions;
  /** Values that could not be used (reported in an Event on the Ingress). */
  problems: string[];
}

export function parseAnnotations(ing: Ingress): ParsedAnnotations {
  const a = ing.metadata?.annotations ?? {};
  const namespace = ing.metadata?.namespace ?? 'default';
  // Most Ingresses carry none of ours: skip the lookups (they dominate a rebuild of 1,000).
  if (!Object.keys(a).some((k) => k.startsWith(ANNOTATION_PREFIX)))
    return { options: { ...DEFAULT_ROUTE_OPTIONS, allowSourceRanges: [] }, problems: [] };
  const get = (k: string): string | undefined => a[ANNOTATION_PREFIX + k];
  const o: RouteOptions = { ...DEFAULT_ROUTE_OPTIONS, allowSourceRanges: [] };
  const problems: string[] = [];
  const bad = (k: string, why: string) => problems.push(`annotation ${ANNOTATION_PREFIX}${k}: ${why}`);
  const bool = (k: string, set: (v: boolean) => void) => {
    const v = get(k);
    if (v === undefined) return;
    const b = parseBool(v);
    if (b === undefined) bad(k, `want "true" or "false", got ${JSON.stringify(v)}`);
    else set(b);
  };
  const seconds = (k: string, set: (ms: number) => void) => {
    const v = get(k);
    if (v === undefined) return;
    if (!/^\d+$/.test(v.trim())) bad(k, `want whole seconds, got ${JSON.stringify(v)}`);
    else set(Number(v) * 1000);
  };

  const rewrite = get('rewrite-target');
  if (rewrite) o.rewriteTarget = rewrite;
  bool('use-regex', (v) => (o.useRegex = v));
  bool('ssl-redirect', (v) => (o.sslRedirect = v));
  bool('force-ssl-redirect', (v) => (o.forceSslRedirect = v));

  const proto = get('backend-protocol')?.toUpperCase();
  if (proto !== undefined) {
    if (proto === 'HTTP' || proto === 'HTTPS' || proto === 'GRPC' || proto === 'GRPCS') o.backendProtocol = proto;
    else bad('backend-protocol', `unsupported protocol ${JSON.stringify(proto)} (HTTP, HTTPS, GRPC, GRPCS)`);
  }

  const authType = get('auth-type');
  if (authType !== undefined) {
    const secret = get('auth-secret');
    if (authType !== 'basic') bad('auth-type', `unsupported type ${JSON.stringify(authType)} (basic)`);
    else if (!secret) bad('auth-secret', 'auth-type basic needs auth-secret');
    else {
      const [ns, name] = secret.includes('/') ? secret.split('/', 2) : [namespace, secret];
      const secretType = get('auth-secret-type') === 'auth-map' ? 'auth-map' : 'auth-file';
      o.basicAuth = { secret: { namespace: ns, name }, realm: get('auth-realm') ?? '', secretType };
    }
  }

  bool('canary', (on) => {
    if (!on) return;
    const weight = Number(get('canary-weight') ?? 0);
    const weightTotal = Number(get('canary-weight-total') ?? 100);
    if (!Number.isFinite(weight) || weight < 0) bad('canary-weight', 'want a non-negative number');
    o.canary = {
      weight: Number.isFinite(weight) && weight > 0 ? weight : 0,
      weightTotal: Number.isFinite(weightTotal) && weightTotal > 0 ? weightTotal : 100,
      byHeader: get('canary-by-header'),
      byHeaderValue: get('canary-by-header-value'),
    };
  });

  const ranges = get('whitelist-source-range') ?? get('allowlist-source-range');
  if (ranges)
    o.allowSourceRanges = ranges
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean);

  const size = get('proxy-body-size');
  if (size !== undefined) {
    const n = parseNginxSize(size);
    if (n === undefined) bad('proxy-body-size', `not a size: ${JSON.stringify(size)}`);
    else o.maxBodyBytes = n;
  }
  seconds('proxy-connect-timeout', (ms) => (o.connectTimeoutMs = ms));
  seconds('proxy-read-timeout', (ms) => (o.readTimeoutMs = ms));
  seconds('proxy-send-timeout', (ms) => (o.sendTimeoutMs = ms));

  const permanent = get('permanent-redirect');
  if (permanent) {
    const code = Number(get('permanent-redirect-code') ?? 301);
    o.permanentRedirect = { location: permanent, code: code >= 300 && code <= 308 ? code : 301 };
  }
  const appRoot = get('app-root');
  if (appRoot) o.appRoot = appRoot;

  bool('enable-cors', (on) => {
    if (!on) return;
    o.cors = {
      allowOrigin: get('cors-allow-origin') ?? '*',
      allowMethods: get('cors-allow-methods') ?? 'GET, PUT, POST, DELETE, PATCH, OPTIONS',
      allowHeaders:
        get('cors-allow-headers') ??
        'DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization',
      allowCredentials: parseBool(get('cors-allow-credentials') ?? 'true') ?? true,
      maxAge: Number(get('cors-max-age') ?? 1728000),
      exposeHeaders: get('cors-expose-headers'),
    };
  });
  return { options: o, problems };
}
