// Helm's rendering engine (pkg/engine): every template of a chart and its subcharts is parsed
// into one template set (deepest paths first, so the parent's definitions win), each chart gets
// its scoped values, and every non-partial file is executed. include/tpl/required/fail are
// bound to the set being executed.
import { posix } from 'node:path';
import { chartFullPath, isRoot, type Chart, type Dependency } from './chart.js';
import { filesFromChart } from './files.js';
import { helmFuncMap } from './funcs/index.js';
import { ExecError, TemplateSet, type FuncDef, type FuncMap } from './template/exec.js';
import { ParseError } from './template/parse.js';
import { GoStruct, type GoMap } from './template/values.js';
import { table } from './values.js';

const WARN_START = 'HELM_ERR_START';
const WARN_END = 'HELM_ERR_END';
const RECURSION_MAX = 1000;

export interface EngineOptions {
  strict?: boolean;
  lintMode?: boolean;
  /** Helm's `lookup` against a cluster; without one (offline, lint) it returns an empty map. */
  lookup?: (apiVersion: string, kind: string, namespace: string, name: string) => GoMap;
}

interface Renderable {
  text: string;
  vals: GoMap;
  basePath: string;
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

function maintainerObject(m: GoMap): GoStruct {
  return new GoStruct(
    '*chart.Maintainer',
    { Name: str(m.name), Email: str(m.email), URL: str(m.url) },
    {},
    undefined,
    () => m,
  );
}

function dependencyObject(d: Dependency): GoStruct {
  const fields: GoMap = {
    Name: d.name,
    Version: d.version ?? '',
    Repository: d.repository ?? '',
    Condition: d.condition ?? '',
    Tags: d.tags ?? null,
    Enabled: d.enabled ?? false,
    ImportValues: d['import-values'] ?? null,
    Alias: d.alias ?? '',
  };
  return new GoStruct('*chart.Dependency', fields, {}, undefined, () => d);
}

/** The `.Chart` object: Chart.yaml's fields under their Go names, plus IsRoot. */
function chartObject(c: Chart): GoStruct {
  const md = c.metadata;
  const fields: GoMap = {
    Name: md.name,
    Home: md.home ?? '',
    Sources: md.sources ?? null,
    Version: md.version,
    Description: md.description ?? '',
    Keywords: md.keywords ?? null,
    Maintainers: md.maintainers ? md.maintainers.map(maintainerObject) : null,
    Icon: md.icon ?? '',
    APIVersion: md.apiVersion,
    Condition: md.condition ?? '',
    Tags: md.tags ?? '',
    AppVersion: md.appVersion ?? '',
    Deprecated: md.deprecated ?? false,
    Annotations: md.annotations ?? null,
    KubeVersion: md.kubeVersion ?? '',
    Dependencies: md.dependencies ? md.dependencies.map(dependencyObject) : null,
    Type: md.type ?? '',
    IsRoot: isRoot(c),
  };
  const json = () => {
    const out: GoMap = {};
    for (const [k, v] of Object.entries(md)) if (v !== undefined && v !== '' && v !== null) out[k] = v;
    out.IsRoot = isRoot(c);
    return out;
  };
  return new GoStruct('struct { chart.Metadata; IsRoot bool }', fields, {}, undefined, json);
}

function collectTemplates(c: Chart, templates: Map<string, Renderable>, vals: GoMap): GoMap {
  const subcharts: GoMap = {};
  const next: GoMap = {
    Chart: chartObject(c),
    Files: filesFromChart(c.files),
    Release: vals.Release,
    Capabilities: vals.Capabilities,
    Values: {},
    Subcharts: subcharts,
  };
  if (isRoot(c)) next.Values = vals.Values;
  else {
    const vs = table(vals, 'Values.' + c.metadata.name);
    if (vs) next.Values = vs;
  }
  for (const child of c.dependencies) subcharts[child.metadata.name] = collectTemplates(child, templates, next);
  const full = chartFullPath(c);
  const library = (c.metadata.type ?? '').toLowerCase() === 'library';
  for (const t of c.templates) {
    if (library && !posix.basename(t.name).startsWith('_')) continue;
    templates.set(posix.join(full, t.name), {
      text: t.data.toString('utf8'),
      vals: next,
      basePath: posix.join(full, 'templates'),
    });
  }
  return next;
}

/** Deeper paths first; equal depth in reverse lexical order (Helm's sortTemplates). */
function sortTemplates(names: string[]): string[] {
  const depth = (s: string) => s.split('/').length - 1;
  return [...names].sort((a, b) => {
    const da = depth(a);
    const db = depth(b);
    if (da !== db) return db - da;
    return a < b ? 1 : a > b ? -1 : 0;
  });
}

function warnWrap(msg: string): string {
  return WARN_START + msg + WARN_END;
}

/** Adds include/tpl (closing over `set`), required and fail to a function map. */
function bindRenderFuncs(set: TemplateSet, included: Map<string, number>, opts: EngineOptions): void {
  const funcs: FuncMap = set.funcs;
  funcs.set('include', {
    params: ['string', 'any'],
    fn: (name, data) => {
      const n = name as string;
      const count = included.get(n) ?? 0;
      if (count > RECURSION_MAX)
        throw new Error(`rendering template has a nested reference name: ${n}: unable to execute template`);
      included.set(n, count + 1);
      try {
        return set.execute(n, data);
      } catch (e) {
        if (e instanceof RangeError)
          throw new Error(`rendering template has a nested reference name: ${n}: unable to execute template`, {
            cause: e,
          });
        throw e;
      } finally {
        included.set(n, (included.get(n) ?? 1) - 1);
      }
    },
  });
  funcs.set('tpl', {
    params: ['string', 'any'],
    fn: (text, vals) => {
      const clone = set.clone();
      clone.missingKey = opts.strict ? 'error' : 'zero';
      bindRenderFuncs(clone, included, opts);
      let tree: ReturnType<TemplateSet['parse']>;
      try {
        tree = clone.parse('gotpl', text as string);
      } catch (e) {
        throw new Error(`cannot parse template ${JSON.stringify(text)}: ${(e as Error).message}`, { cause: e });
      }
      try {
        return clone.execute('gotpl', vals, tree).replaceAll('<no value>', '');
      } catch (e) {
        throw new Error(`error during tpl function execution for ${JSON.stringify(text)}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    },
  });
  funcs.set('required', {
    params: ['string', 'any'],
    fn: (warn, val) => {
      if (val === null || val === undefined || val === '') {
        if (opts.lintMode) return '';
        throw new Error(warnWrap(warn as string));
      }
      return val;
    },
  });
  funcs.set('fail', {
    params: ['string'],
    fn: (msg) => {
      if (opts.lintMode) return '';
      throw new Error(warnWrap(msg as string));
    },
  });
}

function cleanupParseError(filename: string, err: Error): Error {
  const tokens = err.message.split(': ');
  if (tokens.length === 1) return new Error(`parse error in (${filename}): ${err.message}`);
  return new Error(`parse error at (${tokens[1]}): ${tokens[tokens.length - 1]}`);
}

function cleanupExecError(filename: string, err: Error): Error {
  if (!(err instanceof ExecError)) return err;
  const m = /^(.*?): (.*?): ([\s\S]*)$/.exec(err.message);
  if (!m) return new Error(`execution error in (${filename}): ${err.message}`);
  const warn = new RegExp(WARN_START + '([\\s\\S]*)' + WARN_END).exec(m[3]);
  if (warn) return new Error(`execution error at (${m[2]}): ${warn[1]}`);
  return err;
}

/** Renders every template of the chart; keys are "chart/templates/file" paths. */
export function render(chart: Chart, top: GoMap, opts: EngineOptions = {}): Map<string, string> {
  const templates = new Map<string, Renderable>();
  collectTemplates(chart, templates, top);
  const set = new TemplateSet(helmFuncMap());
  set.rootName = 'gotpl';
  set.missingKey = opts.strict ? 'error' : 'zero';
  bindRenderFuncs(set, new Map(), opts);
  if (opts.lookup && !opts.lintMode)
    set.funcs.set('lookup', { params: ['string', 'string', 'string', 'string'], fn: opts.lookup as FuncDef['fn'] });
  const keys = sortTemplates([...templates.keys()]);
  for (const name of keys) {
    try {
      set.parse(name, templates.get(name)!.text);
    } catch (e) {
      if (e instanceof ParseError) throw cleanupParseError(name, e);
      throw e;
    }
  }
  const rendered = new Map<string, string>();
  for (const name of keys) {
    if (posix.basename(name).startsWith('_')) continue;
    const r = templates.get(name)!;
    r.vals.Template = { Name: name, BasePath: r.basePath };
    let out: string;
    try {
      out = set.execute(name, r.vals);
    } catch (e) {
      throw cleanupExecError(name, e as Error);
    }
    rendered.set(name, out.replaceAll('<no value>', ''));
  }
  return rendered;
}
