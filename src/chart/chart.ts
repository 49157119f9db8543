// Charts in memory and their loading from a directory or a .tgz, as Helm's pkg/chart/loader does:
// Chart.yaml validation, values.yaml, templates/, charts/ (directories and archives), other files,
// and .helmignore.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { readTarGz } from './tar.js';
import { parseYaml } from './yaml.js';
import { isMap, type GoMap } from './template/values.js';
import { parseSemver } from './semver.js';
import { byKey } from '../machinery/order.js';

export interface ChartFile {
  name: string;
  data: Buffer;
}

export interface Dependency {
  name: string;
  version?: string;
  repository?: string;
  condition?: string;
  tags?: string[];
  enabled?: boolean;
  'import-values'?: unknown[];
  alias?: string;
}

export interface Metadata {
  name: string;
  home?: string;
  sources?: string[];
  version: string;
  description?: string;
  keywords?: string[];
  maintainers?: GoMap[];
  icon?: string;
  apiVersion: string;
  condition?: string;
  tags?: string;
  appVersion?: string;
  deprecated?: boolean;
  annotations?: Record<string, string>;
  kubeVersion?: string;
  dependencies?: Dependency[];
  type?: string;
}

export interface Chart {
  metadata: Metadata;
  values: GoMap;
  templates: ChartFile[];
  files: ChartFile[];
  dependencies: Chart[];
  parent?: Chart;
  /** values.schema.json, if the chart has one. */
  schema?: string;
}

export class ChartLoadError extends Error {}

export function chartName(c: Chart): string {
  return c.metadata.name;
}

export function isRoot(c: Chart): boolean {
  return c.parent === undefined;
}

/** Helm's ChartFullPath: "top/charts/sub/charts/subsub". */
export function chartFullPath(c: Chart): string {
  return c.parent ? `${chartFullPath(c.parent)}/charts/${c.metadata.name}` : c.metadata.name;
}

export function addDependency(parent: Chart, ...children: Chart[]): void {
  for (const ch of children) {
    ch.parent = parent;
    parent.dependencies.push(ch);
  }
}

export function setDependencies(parent: Chart, children: Chart[]): void {
  parent.dependencies = [];
  addDependency(parent, ...children);
}

/** Files under crds/ (raw, never templated). */
export function crdFiles(c: Chart): ChartFile[] {
  return c.files.filter((f) => f.name.startsWith('crds/') && /\.(ya?ml|json)$/.test(f.name));
}

function validate(md: Metadata): void {
  const err = (m: string) => new ChartLoadError('validation: ' + m);
  if (!md.apiVersion) throw err('chart.metadata.apiVersion is required');
  if (!md.name) throw err('chart.metadata.name is required');
  if (md.name === '.' || md.name === '..') throw err(`chart.metadata.name "${md.name}" is not allowed`);
  if (md.name !== posix.basename(md.name)) throw err(`chart.metadata.name "${md.name}" is invalid`);
  if (!md.version) throw err('chart.metadata.version is required');
  try {
    parseSemver(md.version);
  } catch {
    throw err(`chart.metadata.version "${md.version}" is invalid`);
  }
  if (md.type && md.type !== 'application' && md.type !== 'library')
    throw err('chart.metadata.type must be application or library');
  const seen = new Set<string>();
  for (const d of md.dependencies ?? []) {
    if (d.alias && !/^[a-zA-Z0-9-_]+$/.test(d.alias))
      throw err(`dependency "${d.name}" has disallowed characters in the alias`);
    const key = d.alias || d.name;
    if (seen.has(key)) throw err(`more than one dependency with name or alias "${key}"`);
    seen.add(key);
  }
}

function yamlMap(data: Buffer, what: string): GoMap {
  let v: unknown;
  try {
    v = parseYaml(stripBom(data).toString('utf8'));
  } catch (e) {
    throw new ChartLoadError(`cannot load ${what}: error converting YAML to JSON: ${(e as Error).message}`);
  }
  if (v === null) return {};
  if (!isMap(v))
    throw new ChartLoadError(
      `cannot load ${what}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go value of type map[string]interface {}`,
    );
  return v;
}

function stripBom(b: Buffer): Buffer {
  return b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b;
}

/** Helm's loader.LoadFiles: sorts chart-relative files into a Chart (subcharts recursively). */
export function loadFiles(files: ChartFile[]): Chart {
  const chartYaml = files.find((f) => f.name === 'Chart.yaml');
  if (!chartYaml) throw new ChartLoadError('Chart.yaml file is missing');
  const md = yamlMap(chartYaml.data, 'Chart.yaml') as unknown as Metadata;
  if (!md.apiVersion) md.apiVersion = 'v1';
  for (const k of ['name', 'version', 'appVersion', 'kubeVersion', 'description', 'type'] as const) {
    const v = md[k] as unknown;
    if (typeof v === 'number') (md as unknown as GoMap)[k] = String(v);
  }
  const chart: Chart = { metadata: md, values: {}, templates: [], files: [], dependencies: [] };
  const subcharts = new Map<string, ChartFile[]>();
  for (const f of files) {
    if (f.name === 'Chart.yaml' || f.name === 'Chart.lock') continue;
    if (f.name === 'values.schema.json') {
      chart.schema = f.data.toString('utf8');
      continue;
    }
    if (f.name === 'values.yaml') chart.values = yamlMap(f.data, 'values.yaml');
    else if (f.name === 'requirements.yaml') {
      const req = yamlMap(f.data, 'requirements.yaml');
      if (Array.isArray(req.dependencies)) md.dependencies = req.dependencies as Dependency[];
      if (md.apiVersion === 'v1') chart.files.push(f);
    } else if (f.name === 'requirements.lock') {
      if (md.apiVersion === 'v1') chart.files.push(f);
    } else if (f.name.startsWith('templates/')) chart.templates.push(f);
    else if (f.name.startsWith('charts/')) {
      if (f.name.endsWith('.prov')) {
        chart.files.push(f);
        continue;
      }
      const rel = f.name.slice('charts/'.length);
      const cname = rel.split('/')[0];
      const list = subcharts.get(cname) ?? [];
      list.push({ name: rel, data: f.data });
      subcharts.set(cname, list);
    } else chart.files.push(f);
  }
  validate(md);
  for (const [n, subFiles] of [...subcharts].sort(byKey)) {
    if (n.startsWith('_') || n.startsWith('.')) continue;
    let sub: Chart;
    try {
      if (n.endsWith('.tgz')) sub = loadArchive(subFiles[0].data);
      else
        sub = loadFiles(
          subFiles
            .filter((f) => f.name.includes('/'))
            .map((f) => ({ name: f.name.slice(f.name.indexOf('/') + 1), data: f.data })),
        );
    } catch (e) {
      throw new ChartLoadError(`error unpacking subchart ${n} in ${md.name}: ${(e as Error).message}`);
    }
    addDependency(chart, sub);
  }
  return chart;
}

export function loadArchive(data: Buffer): Chart {
  const files: ChartFile[] = [];
  for (const e of readTarGz(data)) {
    const parts = e.name.split('/');
    if (parts[0] === 'Chart.yaml') throw new ChartLoadError('chart yaml not in base directory');
    const name = parts.slice(1).join('/');
    if (name === '') continue;
    files.push({ name, data: stripBom(e.data) });
  }
  if (files.length === 0) throw new ChartLoadError('no files in chart archive');
  return loadFiles(files);
}

// ---- .helmignore ----

interface IgnoreRule {
  pattern: string;
  negate: boolean;
  dirOnly: boolean;
}

function parseIgnore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [{ pattern: 'templates/.?*', negate: false, dirOnly: false }];
  for (let line of text.split('\n')) {
    line = line.trim();
    if (!line || line.startsWith('#')) continue;
    if (line.includes('**')) throw new ChartLoadError('double-star (**) syntax is not supported');
    let negate = false;
    if (line.startsWith('!')) {
      negate = true;
      line = line.slice(1);
    }
    let dirOnly = false;
    if (line.endsWith('/')) {
      dirOnly = true;
      line = line.slice(0, -1);
    }
    rules.push({ pattern: line, negate, dirOnly });
  }
  return rules;
}

/** Go's path.Match (no error reporting). */
export function pathMatch(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close < 0) return false;
      let cls = pattern.slice(i + 1, close);
      if (cls.startsWith('^')) cls = '^' + cls.slice(1);
      re += '[' + cls.replace(/\\/g, '\\\\') + ']';
      i = close;
    } else if (c === '\\' && i + 1 < pattern.length) re += '\\' + pattern[++i];
    else re += c.replace(/[.+^${}()|\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$').test(name);
}

/** Helm's ignore.Rules.Ignore, including its reading of negated rules (a non-matching "!x" ignores). */
function ignored(rules: IgnoreRule[], path: string, isDir: boolean): boolean {
  if (path === '' || path === '.' || path === './') return false;
  for (const r of rules) {
    const pattern = r.pattern.startsWith('/') ? r.pattern.slice(1) : r.pattern;
    const target = r.pattern.startsWith('/') || r.pattern.includes('/') ? path : posix.basename(path);
    const matches = pathMatch(pattern, target);
    if (r.negate) {
      if (r.dirOnly && !isDir) return true;
      if (!matches) return true;
      continue;
    }
    if (r.dirOnly && !isDir) continue;
    if (matches) return true;
  }
  return false;
}

/** Helm's loader.LoadDir: every file not excluded by .helmignore, then loadFiles. */
export function loadDir(dir: string): Chart {
  return loadFiles(chartDirFiles(dir));
}

/** The files of a chart directory that .helmignore keeps (what `chart package` archives). */
export function chartDirFiles(dir: string): ChartFile[] {
  let rules: IgnoreRule[] = parseIgnore('');
  try {
    rules = parseIgnore(readFileSync(join(dir, '.helmignore'), 'utf8'));
  } catch {
    // no .helmignore: the default rules only
  }
  const files: ChartFile[] = [];
  const walk = (rel: string) => {
    const abs = join(dir, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = statSync(join(dir, r));
      if (st.isDirectory()) {
        if (!ignored(rules, r, true)) walk(r);
      } else if (st.isFile() && !ignored(rules, r, false)) {
        files.push({ name: r, data: stripBom(readFileSync(join(dir, r))) });
      }
    }
  };
  walk('');
  return files;
}

/** A chart from a directory or a packaged .tgz file. */
export function loadChart(path: string): Chart {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new ChartLoadError(`path "${path}" not found`);
  }
  return st.isDirectory() ? loadDir(path) : loadArchive(readFileSync(path));
}
