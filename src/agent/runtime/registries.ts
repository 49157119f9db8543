// Private registries and mirrors, configured the k3s way: a registries.yaml file with `mirrors`
// (which endpoints serve the images of a registry host) and `configs` (credentials and TLS per
// registry host). The agent turns it into containerd's hosts.toml tree (one directory per registry
// host under the CRI plugin's registry config_path) before containerd starts. containerd 1.6 reads
// no credentials from hosts.toml, so the credentials stay here: authFor() hands them to the agent,
// which sends them along with the CRI PullImage request when the pod brings no imagePullSecret.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import type { RegistryAuth } from './types.js';

/** Credentials of one registry host (what the CRI AuthConfig carries). */
export interface RegistryCredentials extends RegistryAuth {
  /** An OAuth refresh token the registry exchanges for access tokens (CRI AuthConfig.identity_token). */
  identityToken?: string;
}

export interface RegistryTLS {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecureSkipVerify?: boolean;
}

export interface RegistryMirror {
  /** Endpoints in the order containerd tries them, normalised to scheme://host[:port][/path]. */
  endpoints: string[];
  /** Regular expression → replacement over the repository path (parsed; containerd 1.6 cannot apply them). */
  rewrite: Record<string, string>;
}

export interface RegistryConfig {
  auth?: RegistryCredentials;
  tls?: RegistryTLS;
}

export interface Registries {
  /** The file this came from (for messages and the hosts.toml header). */
  source: string;
  /** By registry host ("host[:port]", or "*" for every registry without a mirror entry of its own). */
  mirrors: Record<string, RegistryMirror>;
  /** By registry host ("host[:port]"). */
  configs: Record<string, RegistryConfig>;
}

export class RegistriesError extends Error {
  constructor(source: string, field: string, message: string) {
    super(`${source}: ${field ? `${field}: ` : ''}${message}`);
    this.name = 'RegistriesError';
  }
}

/** The file name the agent looks for in its data dir when --private-registry is not given. */
export const DEFAULT_REGISTRIES_FILE = 'registries.yaml';

/**
 * The registries configuration of an agent: the file given with --private-registry (which must
 * exist), else <dataDir>/registries.yaml when present, else none. Throws RegistriesError naming the
 * offending field when the file is not valid.
 */
export function loadRegistries(file: string | undefined, dataDir: string): Registries | undefined {
  let path: string;
  if (file) {
    path = resolve(file);
    if (!existsSync(path)) throw new RegistriesError(path, '', 'no such file (given with --private-registry)');
  } else {
    path = join(dataDir, DEFAULT_REGISTRIES_FILE);
    if (!existsSync(path)) return undefined;
  }
  return parseRegistries(readFileSync(path, 'utf8'), path);
}

/** Field paths in messages: mirrors."docker.io".endpoint[0]. */
function key(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(source: string, field: string, obj: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      throw new RegistriesError(source, `${field}.${key(k)}`, `unknown field (expected one of: ${allowed.join(', ')})`);
    }
  }
}

function optString(source: string, field: string, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new RegistriesError(source, field, `must be a string, not ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** A registry host as containerd names it: host[:port], lower case, no scheme or path. */
function registryHostKey(source: string, field: string, raw: string, allowWildcard: boolean): string {
  if (allowWildcard && raw === '*') return '*';
  const h = raw.trim().toLowerCase();
  if (!h) throw new RegistriesError(source, field, 'the registry host must not be empty');
  if (h.includes('://') || h.includes('/')) {
    throw new RegistriesError(
      source,
      field,
      `the key must be a registry host such as "registry.example.com:5000", without scheme or path (got "${raw}")`,
    );
  }
  let url: URL;
  try {
    url = new URL(`https://${h}`);
  } catch {
    throw new RegistriesError(source, field, `"${raw}" is not a valid registry host[:port]`);
  }
  if (url.username || url.password)
    throw new RegistriesError(
      source,
      field,
      `"${raw}" must not contain credentials; put them under configs.<host>.auth`,
    );
  return h;
}

function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

/**
 * An endpoint URL as hosts.toml wants it. Without a scheme, https is assumed, except for a loopback
 * address on a port other than 443, which is plain http (as containerd itself does for localhost).
 * A path of "", "/" or "/v2" is the standard API root; any other path is used as given.
 */
function normaliseEndpoint(source: string, field: string, raw: unknown): string {
  if (typeof raw !== 'string' || !raw.trim())
    throw new RegistriesError(
      source,
      field,
      `must be a URL such as "https://mirror.example.com:5000", not ${describe(raw)}`,
    );
  let text = raw.trim();
  let schemeGiven = true;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    schemeGiven = false;
    text = `https://${text}`;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RegistriesError(source, field, `"${raw}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RegistriesError(source, field, `"${raw}": the scheme must be http or https`);
  }
  if (url.username || url.password)
    throw new RegistriesError(
      source,
      field,
      `"${raw}" must not contain credentials; put them under configs.<host>.auth`,
    );
  if (url.search || url.hash) throw new RegistriesError(source, field, `"${raw}" must not have a query or fragment`);
  if (!schemeGiven && url.port && url.port !== '443' && isLoopback(url.hostname)) url.protocol = 'http:';
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path === '' ? '' : path}`;
}

function parseMirror(source: string, field: string, v: unknown): RegistryMirror {
  if (v === null || v === undefined) return { endpoints: [], rewrite: {} };
  if (!isMap(v))
    throw new RegistriesError(
      source,
      field,
      `must be a mapping with "endpoint" (and optionally "rewrite"), not ${describe(v)}`,
    );
  checkKeys(source, field, v, ['endpoint', 'rewrite']);
  const endpoints: string[] = [];
  const ep = v.endpoint;
  if (ep !== undefined && ep !== null) {
    const list = typeof ep === 'string' ? [ep] : ep;
    if (!Array.isArray(list))
      throw new RegistriesError(source, `${field}.endpoint`, `must be a list of URLs, not ${describe(ep)}`);
    list.forEach((e, i) => {
      const n = normaliseEndpoint(source, `${field}.endpoint[${i}]`, e);
      if (!endpoints.includes(n)) endpoints.push(n);
    });
  }
  const rewrite: Record<string, string> = {};
  if (v.rewrite !== undefined && v.rewrite !== null) {
    if (!isMap(v.rewrite))
      throw new RegistriesError(
        source,
        `${field}.rewrite`,
        `must be a mapping of regular expression to replacement, not ${describe(v.rewrite)}`,
      );
    for (const [re, to] of Object.entries(v.rewrite)) {
      const f = `${field}.rewrite.${key(re)}`;
      try {
        new RegExp(re);
      } catch (err) {
        throw new RegistriesError(source, f, `invalid regular expression: ${(err as Error).message}`);
      }
      const s = optString(source, f, to);
      if (s === undefined) throw new RegistriesError(source, f, 'the replacement must be a string');
      rewrite[re] = s;
    }
  }
  return { endpoints, rewrite };
}

function parseAuth(source: string, field: string, v: unknown): RegistryCredentials | undefined {
  if (v === null || v === undefined) return undefined;
  if (!isMap(v))
    throw new RegistriesError(
      source,
      field,
      `must be a mapping (username/password, auth or identity_token), not ${describe(v)}`,
    );
  checkKeys(source, field, v, ['username', 'password', 'auth', 'identity_token']);
  const username = optString(source, `${field}.username`, v.username);
  const password = optString(source, `${field}.password`, v.password);
  const auth = optString(source, `${field}.auth`, v.auth);
  const identityToken = optString(source, `${field}.identity_token`, v.identity_token);
  if (password !== undefined && !username)
    throw new RegistriesError(source, `${field}.username`, 'is required with password');
  if (auth !== undefined) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(auth) || !decoded.includes(':')) {
      throw new RegistriesError(source, `${field}.auth`, 'must be base64 of "username:password"');
    }
  }
  if (!username && auth === undefined && identityToken === undefined) {
    throw new RegistriesError(source, field, 'needs username and password, auth, or identity_token');
  }
  const out: RegistryCredentials = {};
  if (username) out.username = username;
  if (password !== undefined) out.password = password;
  if (auth !== undefined) out.auth = auth;
  if (identityToken !== undefined) out.identityToken = identityToken;
  return out;
}

function parseTLS(source: string, field: string, v: unknown): RegistryTLS | undefined {
  if (v === null || v === undefined) return undefined;
  if (!isMap(v))
    throw new RegistriesError(
      source,
      field,
      `must be a mapping (ca_file, cert_file, key_file, insecure_skip_verify), not ${describe(v)}`,
    );
  checkKeys(source, field, v, ['ca_file', 'cert_file', 'key_file', 'insecure_skip_verify']);
  const out: RegistryTLS = {};
  const file = (name: 'ca_file' | 'cert_file' | 'key_file') => {
    const p = optString(source, `${field}.${name}`, v[name]);
    if (p === undefined || p === '') return undefined;
    const abs = resolve(p);
    if (!existsSync(abs) || !statSync(abs).isFile())
      throw new RegistriesError(source, `${field}.${name}`, `${abs}: no such file`);
    return abs;
  };
  out.caFile = file('ca_file');
  out.certFile = file('cert_file');
  out.keyFile = file('key_file');
  if (out.keyFile && !out.certFile)
    throw new RegistriesError(source, `${field}.cert_file`, 'is required with key_file');
  const skip = v.insecure_skip_verify;
  if (skip !== undefined && skip !== null) {
    if (typeof skip !== 'boolean')
      throw new RegistriesError(
        source,
        `${field}.insecure_skip_verify`,
        `must be true or false, not ${describe(skip)}`,
      );
    out.insecureSkipVerify = skip;
  }
  for (const k of Object.keys(out) as (keyof RegistryTLS)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** Parses the text of a registries.yaml; `source` names the file in error messages. */
export function parseRegistries(text: string, source = 'registries.yaml'): Registries {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new RegistriesError(source, '', `not valid YAML: ${(err as Error).message}`);
  }
  const out: Registries = { source, mirrors: {}, configs: {} };
  if (doc === null || doc === undefined) return out;
  if (!isMap(doc))
    throw new RegistriesError(source, '', `must be a mapping with "mirrors" and/or "configs", not ${describe(doc)}`);
  for (const k of Object.keys(doc)) {
    if (k !== 'mirrors' && k !== 'configs')
      throw new RegistriesError(source, key(k), 'unknown field (expected mirrors or configs)');
  }
  if (doc.mirrors !== undefined && doc.mirrors !== null) {
    if (!isMap(doc.mirrors))
      throw new RegistriesError(
        source,
        'mirrors',
        `must be a mapping of registry host to mirror, not ${describe(doc.mirrors)}`,
      );
    for (const [host, m] of Object.entries(doc.mirrors)) {
      const field = `mirrors.${key(host)}`;
      out.mirrors[registryHostKey(source, field, host, true)] = parseMirror(source, field, m);
    }
  }
  if (doc.configs !== undefined && doc.configs !== null) {
    if (!isMap(doc.configs))
      throw new RegistriesError(
        source,
        'configs',
        `must be a mapping of registry host to its auth and tls, not ${describe(doc.configs)}`,
      );
    for (const [host, c] of Object.entries(doc.configs)) {
      const field = `configs.${key(host)}`;
      if (c === null || c === undefined) continue;
      if (!isMap(c))
        throw new RegistriesError(source, field, `must be a mapping with auth and/or tls, not ${describe(c)}`);
      checkKeys(source, field, c, ['auth', 'tls']);
      // Keys are registry hosts; a scheme some users put there is tolerated and dropped.
      const bare = host.replace(/^https?:\/\//i, '').replace(/\/.*$/, '');
      const cfg: RegistryConfig = {};
      const auth = parseAuth(source, `${field}.auth`, c.auth);
      const tls = parseTLS(source, `${field}.tls`, c.tls);
      if (auth) cfg.auth = auth;
      if (tls) cfg.tls = tls;
      out.configs[registryHostKey(source, field, bare, false)] = cfg;
    }
  }
  return out;
}

/** The registry host of an image reference, as containerd resolves it ("docker.io" for short names). */
export function imageRegistry(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return 'docker.io';
  const h = first.toLowerCase();
  return h === 'index.docker.io' || h === 'registry-1.docker.io' ? 'docker.io' : h;
}

/** The mirror that applies to a registry host: its own entry, else the "*" one. */
export function mirrorFor(reg: Registries, host: string): RegistryMirror | undefined {
  return reg.mirrors[host] ?? reg.mirrors['*'];
}

/** The host (authority) the upstream registry itself is reached at. */
function upstreamAuthority(host: string): string {
  return host === 'docker.io' ? 'registry-1.docker.io' : host;
}

/**
 * Credentials from the registries file for pulling `image`: those of the first mirror endpoint of
 * its registry that has some, else those of the registry itself. The answer names the host it is
 * for (serverAddress, as https://host[:port]), so containerd offers it to that host only.
 */
export function authFor(reg: Registries | undefined, image: string): RegistryCredentials | undefined {
  if (!reg) return undefined;
  const host = imageRegistry(image);
  const candidates: string[] = [];
  for (const e of mirrorFor(reg, host)?.endpoints ?? []) candidates.push(new URL(e).host);
  candidates.push(host);
  for (const h of candidates) {
    const auth = reg.configs[h]?.auth ?? (h === 'registry-1.docker.io' ? reg.configs['docker.io']?.auth : undefined);
    // containerd 1.6 parses serverAddress as a URL and offers the credentials to its host only.
    if (auth) return { ...auth, serverAddress: `https://${upstreamAuthority(h)}` };
  }
  return undefined;
}

/** Warnings about settings the hosts.toml tree cannot express (the agent logs them). */
export function registryWarnings(reg: Registries): string[] {
  const out: string[] = [];
  for (const [host, m] of Object.entries(reg.mirrors)) {
    if (Object.keys(m.rewrite).length) {
      out.push(
        `${reg.source}: mirrors.${key(host)}.rewrite is ignored: the hosts.toml of containerd 1.6 has no rewrites (the repository path is used unchanged on every endpoint)`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// hosts.toml

const MARKER = '# Written by k8ts';

function tomlString(s: string): string {
  return JSON.stringify(s);
}

/** TLS lines of one host entry (or of the file's top level, for the `server`). */
function tlsLines(tls: RegistryTLS | undefined, indent: string): string[] {
  if (!tls) return [];
  const lines: string[] = [];
  if (tls.insecureSkipVerify !== undefined) lines.push(`${indent}skip_verify = ${tls.insecureSkipVerify}`);
  if (tls.caFile) lines.push(`${indent}ca = ${tomlString(tls.caFile)}`);
  if (tls.certFile) {
    const pair = tls.keyFile
      ? `[${tomlString(tls.certFile)}, ${tomlString(tls.keyFile)}]`
      : `[${tomlString(tls.certFile)}, ""]`;
    lines.push(`${indent}client = [${pair}]`);
  }
  return lines;
}

/** The directory name containerd looks for under config_path for a registry host. */
export function hostsDirName(host: string): string {
  return host === '*' ? '_default' : host;
}

/** The hosts.toml of one registry host (or of "*", the _default directory). */
export function hostsToml(reg: Registries, host: string): string {
  const mirror = reg.mirrors[host];
  const lines = [`${MARKER} from ${reg.source} at every start; edit that file instead.`];
  let server: string | undefined;
  const hostEntries: string[] = [];
  for (const e of mirror?.endpoints ?? []) {
    const u = new URL(e);
    // An endpoint on the registry's own host with the standard path is the registry itself: make
    // it the server (the last resort containerd tries), so a plain-http registry is not tried over https too.
    if (
      host !== '*' &&
      u.host === host &&
      (u.pathname === '/' || u.pathname === '' || u.pathname === '/v2') &&
      !server
    ) {
      server = `${u.protocol}//${u.host}`;
      continue;
    }
    hostEntries.push(e);
  }
  if (host !== '*') {
    server ??= host === 'docker.io' ? 'https://registry-1.docker.io' : `https://${host}`;
    lines.push(`server = ${tomlString(server)}`);
    lines.push(...tlsLines(reg.configs[host]?.tls, ''));
  }
  for (const e of hostEntries) {
    const u = new URL(e);
    lines.push('', `[host.${tomlString(e)}]`, '  capabilities = ["pull", "resolve"]');
    if (u.pathname !== '/' && u.pathname !== '' && !/\/v2$/.test(u.pathname)) lines.push('  override_path = true');
    lines.push(...tlsLines(reg.configs[u.host]?.tls, '  '));
  }
  return `${lines.join('\n')}\n`;
}

/** The hosts.toml files for a configuration, by directory name under config_path. */
export function hostsTree(reg: Registries | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!reg) return out;
  const hosts = new Set<string>(Object.keys(reg.mirrors));
  // A registry with TLS settings but no mirror still needs its own file for those settings.
  for (const [host, cfg] of Object.entries(reg.configs)) if (cfg.tls) hosts.add(host);
  for (const host of hosts) out.set(hostsDirName(host), hostsToml(reg, host));
  return out;
}

/**
 * Writes the hosts.toml tree under `dir` (containerd's registry config_path) and removes the files
 * an earlier start wrote that the configuration no longer has. Files k8ts did not write are kept.
 * containerd reads the tree at every pull, so this needs no restart of containerd.
 */
export function writeHostsTree(dir: string, reg: Registries | undefined): string[] {
  mkdirSync(dir, { recursive: true });
  const tree = hostsTree(reg);
  for (const name of readdirSync(dir)) {
    if (tree.has(name)) continue;
    const file = join(dir, name, 'hosts.toml');
    if (existsSync(file) && readFileSync(file, 'utf8').startsWith(MARKER))
      rmSync(join(dir, name), { recursive: true, force: true });
  }
  const written: string[] = [];
  for (const [name, content] of tree) {
    const d = join(dir, name);
    mkdirSync(d, { recursive: true });
    const file = join(d, 'hosts.toml');
    written.push(file);
    if (existsSync(file) && readFileSync(file, 'utf8') === content) continue;
    writeFileSync(`${file}.tmp`, content, { mode: 0o644 });
    renameSync(`${file}.tmp`, file);
  }
  return written;
}
