// Kubernetes' CEL URL library (library/urls.go): url(), isURL() and the URL accessors. A URL is an
// absolute URI or an absolute path, split the way Go's url.Parse does (the port is kept as
// written, even when it is the scheme's default).
import type { Environment } from '@marcbachmann/cel-js';

export class KubeURL {
  constructor(
    readonly scheme: string,
    readonly host: string,
    readonly path: string,
    readonly query: string,
  ) {}
  toString(): string {
    const auth = this.scheme ? `${this.scheme}://${this.host}` : '';
    return `${auth}${this.path}${this.query ? `?${this.query}` : ''}`;
  }
}

const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?$/;
const PATH_ONLY = /^(\/[^?#]*)(?:\?([^#]*))?(?:#.*)?$/;

export function parseURL(s: string): KubeURL | undefined {
  const abs = ABSOLUTE.exec(s);
  if (abs) {
    const host = abs[2];
    if (/\s/.test(host) || (host.includes('[') && !/^\[[0-9A-Fa-f:.%a-z]+\](:\d*)?$/.test(host))) return undefined;
    return new KubeURL(abs[1], host, abs[3], abs[4] ?? '');
  }
  const rel = PATH_ONLY.exec(s);
  return rel ? new KubeURL('', '', rel[1], rel[2] ?? '') : undefined;
}

function hostname(u: KubeURL): string {
  const h = u.host.replace(/^[^@]*@/, '');
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

function port(u: KubeURL): string {
  const h = u.host.replace(/^[^@]*@/, '');
  const m = /:(\d*)$/.exec(h.startsWith('[') ? h.slice(h.indexOf(']')) : h);
  return m ? m[1] : '';
}

function queryMap(u: KubeURL): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, v] of new URLSearchParams(u.query)) {
    const list = out.get(k);
    if (list) list.push(v);
    else out.set(k, [v]);
  }
  return out;
}

export function registerURLs(env: Environment): void {
  env
    .registerType('URL', KubeURL)
    .registerFunction('url(string): URL', (s: string) => {
      const u = parseURL(s);
      if (!u) throw new Error(`URL parse error during conversion from string: ${s}`);
      return u;
    })
    .registerFunction('isURL(string): bool', (s: string) => parseURL(s) !== undefined)
    .registerFunction('URL.getScheme(): string', (u: KubeURL) => u.scheme)
    .registerFunction('URL.getHost(): string', (u: KubeURL) => u.host.replace(/^[^@]*@/, ''))
    .registerFunction('URL.getHostname(): string', hostname)
    .registerFunction('URL.getPort(): string', port)
    .registerFunction('URL.getEscapedPath(): string', (u: KubeURL) => u.path)
    .registerFunction('URL.getQuery(): map<string, list<string>>', queryMap);
}
