// Helm's value handling (pkg/chartutil coalesce.go and dependencies.go): coalescing user values
// over chart defaults with null deletions and globals, dependency enabling through
// condition/tags/alias, and import-values.
import { isCompatibleRange } from './semver.js';
import { isMap, type GoMap } from './template/values.js';
import { deepCopy } from './funcs/convert.js';
import { setDependencies, type Chart, type Dependency } from './chart.js';

const GLOBAL = 'global';

function copyShallow(m: GoMap): GoMap {
  return { ...m };
}

/** CoalesceValues / MergeValues: user values over chart defaults, recursively into subcharts. */
export function coalesceValues(chart: Chart, vals: GoMap | null, merge: boolean): GoMap {
  const dest = deepCopy(vals ?? {});
  return coalesce(chart, dest, merge);
}

function coalesce(chart: Chart, dest: GoMap, merge: boolean): GoMap {
  coalesceChartValues(chart, dest, merge);
  return coalesceDeps(chart, dest, merge);
}

function coalesceDeps(chart: Chart, dest: GoMap, merge: boolean): GoMap {
  for (const sub of chart.dependencies) {
    const name = sub.metadata.name;
    if (!(name in dest)) dest[name] = {};
    else if (!isMap(dest[name]))
      throw new Error(`type mismatch on ${name}: %!t(${typeof dest[name]}=${String(dest[name])})`);
    const dv = dest[name] as GoMap;
    coalesceGlobals(dv, dest);
    dest[name] = coalesce(sub, dv, merge);
  }
  return dest;
}

function coalesceGlobals(dest: GoMap, src: GoMap): void {
  let dg: GoMap;
  let sg: GoMap;
  if (!(GLOBAL in dest)) dg = {};
  else if (isMap(dest[GLOBAL])) dg = dest[GLOBAL];
  else return;
  if (!(GLOBAL in src)) sg = {};
  else if (isMap(src[GLOBAL])) sg = src[GLOBAL];
  else return;
  for (const [key, val] of Object.entries(sg)) {
    if (isMap(val)) {
      const vv = copyShallow(val);
      if (!(key in dg)) dg[key] = vv;
      else if (isMap(dg[key])) {
        coalesceTables(vv, dg[key], true);
        dg[key] = vv;
      }
    } else if (key in dg && isMap(dg[key])) {
      // a table in the destination is not replaced by a scalar
    } else dg[key] = val;
  }
  dest[GLOBAL] = dg;
}

function childChartMerge(chart: Chart, key: string, merge: boolean): boolean {
  return chart.dependencies.some((d) => d.metadata.name === key) || merge;
}

function coalesceChartValues(chart: Chart, v: GoMap, merge: boolean): void {
  const vc = deepCopy(chart.values);
  for (const [key, val] of Object.entries(vc)) {
    if (key in v) {
      const value = v[key];
      if (value === null && !merge) delete v[key];
      else if (isMap(value) && isMap(val)) coalesceTables(value, val, childChartMerge(chart, key, merge));
    } else v[key] = val;
  }
}

/** coalesceTablesFullKey: src fills dst; with merge=false a null in dst deletes the key. */
export function coalesceTables(dst: GoMap | null, src: GoMap | null, merge: boolean): GoMap | null {
  if (src === null) return dst;
  if (dst === null) return src;
  const srcNonNil = new Set(Object.keys(src).filter((k) => src[k] !== null));
  for (const [k, v] of Object.entries(dst)) if (v === null) src[k] = null;
  for (const [key, val] of Object.entries(src)) {
    const has = key in dst;
    const dv = dst[key];
    if (has && !merge && dv === null && srcNonNil.has(key)) delete dst[key];
    else if (!has) dst[key] = val;
    else if (isMap(val)) {
      if (isMap(dv)) coalesceTables(dv, val, merge);
    }
  }
  return dst;
}

// ---- dependencies ----

/** Values.PathValue for "a.b.c": the leaf value, or undefined when any step is missing. */
function pathValue(vals: GoMap, path: string): unknown {
  const parts = path.split('.');
  let cur: unknown = vals;
  for (let i = 0; i < parts.length; i++) {
    if (!isMap(cur) || !(parts[i] in cur)) return undefined;
    cur = cur[parts[i]];
    if (i < parts.length - 1 && !isMap(cur)) return undefined;
  }
  return cur;
}

/** Values.Table("a.b"): the map at a dotted path, or undefined. */
export function table(vals: GoMap, path: string): GoMap | undefined {
  let cur: unknown = vals;
  for (const p of path.split('.')) {
    if (!isMap(cur) || !(p in cur)) return undefined;
    cur = cur[p];
  }
  return isMap(cur) ? cur : undefined;
}

function processConditions(reqs: Dependency[], cvals: GoMap, cpath: string): void {
  for (const r of reqs) {
    for (const c of (r.condition ?? '').trim().split(',')) {
      if (!c) continue;
      const vv = pathValue(cvals, cpath + c);
      if (typeof vv === 'boolean') {
        r.enabled = vv;
        break;
      }
    }
  }
}

function processTags(reqs: Dependency[], cvals: GoMap): void {
  const vt = table(cvals, 'tags');
  if (!vt) return;
  for (const r of reqs) {
    let hasTrue = false;
    let hasFalse = false;
    for (const k of r.tags ?? []) {
      const b = vt[k];
      if (typeof b === 'boolean') {
        if (b) hasTrue = true;
        else hasFalse = true;
      }
    }
    if (!hasTrue && hasFalse) r.enabled = false;
    else r.enabled = true;
  }
}

function aliasDependency(charts: Chart[], dep: Dependency): Chart | undefined {
  for (const c of charts) {
    if (c.metadata.name !== dep.name) continue;
    if (!isCompatibleRange(dep.version ?? '', c.metadata.version)) continue;
    const out: Chart = { ...c, metadata: { ...c.metadata } };
    if (dep.alias) out.metadata.name = dep.alias;
    return out;
  }
  return undefined;
}

function processEnabled(c: Chart, v: GoMap, path: string): void {
  const deps = c.metadata.dependencies;
  if (!deps) return;
  const chartDeps: Chart[] = [];
  for (const existing of c.dependencies) {
    if (
      !deps.some(
        (req) => existing.metadata.name === req.name && isCompatibleRange(req.version ?? '', existing.metadata.version),
      )
    )
      chartDeps.push(existing);
  }
  for (const req of deps) {
    const cd = aliasDependency(c.dependencies, req);
    if (cd) chartDeps.push(cd);
    if (req.alias) req.name = req.alias;
  }
  setDependencies(c, chartDeps);
  for (const r of deps) r.enabled = true;
  const cvals = coalesceValues(c, v, false);
  processTags(deps, cvals);
  processConditions(deps, cvals, path);
  const disabled = new Set(deps.filter((r) => !r.enabled).map((r) => r.name));
  const kept = c.dependencies.filter((d) => !disabled.has(d.metadata.name));
  for (const t of kept) processEnabled(t, cvals, path + t.metadata.name + '.');
  c.metadata.dependencies = deps.filter((r) => !disabled.has(r.name));
  setDependencies(c, kept);
}

function pathToMap(path: string, data: GoMap): GoMap {
  if (path === '.') return data;
  let cur = data;
  const parts = path.split('.').filter((p) => p !== '');
  for (let i = parts.length - 1; i >= 0; i--) cur = { [parts[i]]: cur };
  return cur;
}

function trimNil(vals: GoMap): GoMap {
  const out = deepCopy(vals);
  for (const [k, v] of Object.entries(out)) {
    if (v === null) delete out[k];
    else if (isMap(v)) out[k] = trimNil(v);
  }
  return out;
}

function processImportValues(c: Chart, merge: boolean): void {
  const deps = c.metadata.dependencies;
  if (!deps) return;
  const cvals = coalesceValues(c, null, merge);
  let b: GoMap = {};
  for (const r of deps) {
    const out: unknown[] = [];
    for (const riv of r['import-values'] ?? []) {
      let child: string;
      let parent: string;
      if (isMap(riv)) {
        child = String(riv.child);
        parent = String(riv.parent);
      } else if (typeof riv === 'string') {
        child = 'exports.' + riv;
        parent = '.';
      } else continue;
      out.push({ child, parent });
      const vv = table(cvals, r.name + '.' + child);
      if (!vv) continue;
      const src = isMap(riv) ? pathToMap(parent, deepCopy(vv)) : deepCopy(vv);
      b = coalesceTables(b, src, merge) ?? {};
    }
    if (r['import-values']) r['import-values'] = out;
  }
  c.values = coalesceTables(merge ? deepCopy(cvals) : trimNil(cvals), b, merge) ?? {};
}

function processImports(c: Chart, merge: boolean): void {
  for (const d of c.dependencies) processImports(d, merge);
  processImportValues(c, merge);
}

/** ProcessDependenciesWithMerge, as `helm install/template` runs it before rendering. */
export function processDependencies(c: Chart, vals: GoMap): void {
  processEnabled(c, vals, '');
  processImports(c, true);
}
