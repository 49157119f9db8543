// Compose files combined, as the Compose Specification's merge rules say: several `-f` files
// (each later one overrides the earlier), a service's `extends` (its base service from the same
// or another file, with the service's own keys merged over it) and `profiles` (services that
// name profiles only run when one of them is active). Works on the raw, interpolated documents,
// before load.ts normalises each service.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import YAML from 'yaml';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys whose value an override replaces whole, even when it is a list. */
const REPLACED = new Set(['command', 'entrypoint', 'test', 'dns', 'dns_search', 'tmpfs']);
/** Lists of KEY=VALUE (or maps) merged by key. */
const KEYED_MAPS = new Set(['environment', 'labels', 'annotations', 'extra_hosts', 'sysctls']);
/** Lists of mounts: one entry per target path. */
const BY_TARGET = new Set(['volumes', 'configs', 'secrets']);
/** Lists or maps of names merged by name. */
const BY_NAME = new Set(['depends_on', 'networks']);

/** KEY=VALUE lists as maps (a bare KEY keeps a null value, as Compose does). */
function asKeyedMap(v: unknown): Obj {
  if (isObj(v)) return v;
  if (!Array.isArray(v)) return {};
  const out: Obj = {};
  for (const item of v) {
    const s = String(item);
    const eq = s.indexOf('=');
    if (eq >= 0) out[s.slice(0, eq)] = s.slice(eq + 1);
    else out[s] = null;
  }
  return out;
}

function asNameMap(v: unknown): Obj {
  if (isObj(v)) return v;
  return Array.isArray(v) ? Object.fromEntries(v.map((n) => [String(n), null])) : {};
}

/** The container path of a short (`src:/path[:ro]`) or long volume/config/secret entry. */
function targetOf(entry: unknown, key: string): string {
  if (isObj(entry)) {
    const path = entry.target ?? entry.source;
    return typeof path === 'string' ? path : '';
  }
  const s = String(entry);
  if (key !== 'volumes') return s;
  const parts = s.split(':');
  return parts.length === 1 ? parts[0] : parts[1];
}

/** `override` over `base`, by the rules of the field `key` names. */
export function mergeValue(key: string, base: unknown, override: unknown): unknown {
  if (override === undefined) return base;
  if (base === undefined || override === null || REPLACED.has(key)) return override;
  if (KEYED_MAPS.has(key) && (Array.isArray(base) || Array.isArray(override)))
    return { ...asKeyedMap(base), ...asKeyedMap(override) };
  if (BY_NAME.has(key) && (Array.isArray(base) || Array.isArray(override))) {
    const [b, o] = [asNameMap(base), asNameMap(override)];
    const out: Obj = { ...b };
    for (const [k, v] of Object.entries(o)) out[k] = isObj(b[k]) && isObj(v) ? mergeMaps(b[k], v) : (v ?? b[k] ?? null);
    return out;
  }
  if (Array.isArray(base) && Array.isArray(override)) {
    const [b, o] = [base as unknown[], override as unknown[]];
    if (BY_TARGET.has(key)) {
      const out = [...b];
      for (const e of o) {
        const at = out.findIndex((x) => targetOf(x, key) === targetOf(e, key));
        if (at >= 0) out[at] = e;
        else out.push(e);
      }
      return out;
    }
    const seen = new Set(b.map((x) => JSON.stringify(x)));
    return [...b, ...o.filter((x) => !seen.has(JSON.stringify(x)))];
  }
  if (isObj(base) && isObj(override)) return mergeMaps(base, override);
  return override;
}

function mergeMaps(base: Obj, override: Obj): Obj {
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(override)) out[k] = mergeValue(k, base[k], v);
  return out;
}

/** Several Compose documents as one: each later document overrides the earlier ones. */
export function mergeDocuments(docs: Obj[]): Obj {
  let out: Obj = {};
  for (const d of docs) {
    const services = isObj(out.services) ? { ...out.services } : {};
    for (const [name, s] of Object.entries(isObj(d.services) ? d.services : {}))
      services[name] = isObj(services[name]) && isObj(s) ? mergeMaps(services[name], s) : s;
    out = { ...mergeMaps(out, { ...d, services: undefined }), services };
  }
  return out;
}

/**
 * Each service's `extends` resolved: the base service (from this document, or from `file`
 * relative to `dir`, parsed and interpolated by `load`) with the service's own keys merged over it.
 * Chains are followed; a cycle is an error.
 */
export function resolveExtends(doc: Obj, dir: string, load: (path: string) => Obj): Obj {
  const services = isObj(doc.services) ? doc.services : {};
  const resolved = new Map<string, Obj>();
  const resolveIn = (all: Obj, name: string, from: string, chain: string[]): Obj => {
    const key = `${from}#${name}`;
    const done = from === '' ? resolved.get(name) : undefined;
    if (done) return done;
    if (chain.includes(key))
      throw new Error(`circular reference with extends in service "${name}": ${[...chain, key].join(' -> ')}`);
    const raw = all[name];
    if (!isObj(raw)) throw new Error(`cannot extend service "${name}": service not found${from ? ` in ${from}` : ''}`);
    let out: Obj = raw;
    if (raw.extends !== undefined) {
      const ext = typeof raw.extends === 'string' ? { service: raw.extends } : raw.extends;
      if (!isObj(ext) || typeof ext.service !== 'string')
        throw new Error(`service "${name}": extends must name a service`);
      let baseAll = all;
      let baseFrom = from;
      if (typeof ext.file === 'string') {
        baseFrom = resolve(from ? dirname(from) : dir, ext.file);
        const other = load(baseFrom);
        baseAll = isObj(other.services) ? other.services : {};
      }
      const base = resolveIn(baseAll, ext.service, baseFrom, [...chain, key]);
      const own: Obj = { ...raw };
      delete own.extends;
      out = mergeMaps(base, own);
    }
    if (from === '') resolved.set(name, out);
    return out;
  };
  const out: Obj = {};
  for (const name of Object.keys(services)) out[name] = resolveIn(services, name, '', []);
  return { ...doc, services: out };
}

/**
 * The services that run: those without `profiles`, and those naming an active profile (`*`
 * activates all). An enabled service that depends on a disabled one is an error, as in Compose.
 */
export function withProfiles(doc: Obj, active: string[]): Obj {
  const services = isObj(doc.services) ? doc.services : {};
  const enabled = (s: unknown) => {
    const profiles = isObj(s) && Array.isArray(s.profiles) ? s.profiles.map(String) : [];
    return profiles.length === 0 || active.includes('*') || profiles.some((p) => active.includes(p));
  };
  const on = Object.entries(services).filter(([, s]) => enabled(s));
  for (const [name, s] of on)
    for (const dep of Object.keys(asNameMap(isObj(s) ? s.depends_on : undefined)))
      if (isObj(services[dep]) && !enabled(services[dep]))
        throw new Error(
          `service "${dep}" was pulled in as dependency of service "${name}" but is not enabled by the active profiles. You may fix this by adding a common profile to "${dep}" and "${name}"`,
        );
  return { ...doc, services: Object.fromEntries(on) };
}

/** Reads one Compose file as a document (anchors and merge keys). */
export function readDocument(path: string, interpolate: (doc: unknown) => unknown): Obj {
  const doc: unknown = YAML.parse(readFileSync(path, 'utf8'), { merge: true });
  if (!isObj(doc)) throw new Error(`${path}: not a Compose file (expected a map at the top)`);
  return interpolate(doc) as Obj;
}
