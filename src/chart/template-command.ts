// `helm template` semantics: values from files and flags, release naming, dependency processing,
// rendering, and the output assembly of Helm's install action and template command (CRDs,
// manifests in install order with "# Source:" headers, hooks, --show-only, --debug).
import { readFileSync } from 'node:fs';
import {
  capabilitiesObject,
  DEFAULT_KUBE_VERSION,
  kubeVersionString,
  parseKubeVersion,
  type KubeVersion,
} from './capabilities.js';
import { walkArgv } from './argv.js';
import { chartFullPath, crdFiles, loadChart, type Chart } from './chart.js';
import { render, type EngineOptions } from './engine.js';
import { helmFuncMap } from './funcs/index.js';
import { ManifestParseError, sortManifests, splitManifests } from './manifests.js';
import { isCompatibleRange } from './semver.js';
import { mergeMaps, parseInto } from './strvals.js';
import { renderString } from './template/exec.js';
import { isMap, type GoMap } from './template/values.js';
import { coalesceValues, processDependencies } from './values.js';
import { validateAgainstSchema } from './schema.js';
import { parseYaml } from './yaml.js';
import { pathMatch } from './chart.js';

export interface TemplateOptions {
  releaseName?: string;
  nameTemplate?: string;
  chartPath: string;
  namespace: string;
  valueFiles: string[];
  /** --set / --set-string / --set-json / --set-file in the order Helm applies them. */
  set: string[];
  setString: string[];
  setJson: string[];
  setFile: string[];
  setLiteral: string[];
  kubeVersion?: string;
  apiVersions: string[];
  includeCrds: boolean;
  skipTests: boolean;
  noHooks: boolean;
  showOnly: string[];
  isUpgrade: boolean;
  debug: boolean;
  skipSchemaValidation: boolean;
  /** --dry-run's value ("client" when given bare; Helm's template default "true"). */
  dryRun?: string;
  kubeconfig?: string;
  kubeContext?: string;
}

const DRY_RUN_VALUES = ['false', 'true', 'none', 'client', 'server'];

/** Whether `helm template` renders `lookup` against the cluster (Helm 3.13+: --dry-run=server). */
export function templateLooksUp(opts: TemplateOptions): boolean {
  return opts.dryRun === 'server' || opts.dryRun === 'none' || opts.dryRun === 'false';
}

export class UsageError extends Error {}

/** Parses `template [NAME] [CHART] [flags]` with Helm's flag names. */
export function parseTemplateArgs(argv: string[]): TemplateOptions {
  const opts: TemplateOptions = {
    chartPath: '',
    namespace: 'default',
    valueFiles: [],
    set: [],
    setString: [],
    setJson: [],
    setFile: [],
    setLiteral: [],
    apiVersions: [],
    includeCrds: false,
    skipTests: false,
    noHooks: false,
    showOnly: [],
    isUpgrade: false,
    debug: false,
    skipSchemaValidation: false,
  };
  const positional: string[] = [];
  const withValue: Record<string, (v: string) => void> = {
    '--set': (v) => opts.set.push(v),
    '--set-string': (v) => opts.setString.push(v),
    '--set-json': (v) => opts.setJson.push(v),
    '--set-file': (v) => opts.setFile.push(v),
    '--set-literal': (v) => opts.setLiteral.push(v),
    '--values': (v) => opts.valueFiles.push(...v.split(',')),
    '-f': (v) => opts.valueFiles.push(...v.split(',')),
    '--name-template': (v) => (opts.nameTemplate = v),
    '--kube-version': (v) => (opts.kubeVersion = v),
    '--api-versions': (v) => opts.apiVersions.push(...v.split(',')),
    '-a': (v) => opts.apiVersions.push(...v.split(',')),
    '--show-only': (v) => opts.showOnly.push(v),
    '-s': (v) => opts.showOnly.push(v),
    '--namespace': (v) => (opts.namespace = v),
    '-n': (v) => (opts.namespace = v),
    '--release-name': (v) => (opts.releaseName = v),
    '--version': () => undefined,
    '--output-dir': () => undefined,
    '--description': () => undefined,
    '--timeout': () => undefined,
    '--post-renderer': () => undefined,
    '--kubeconfig': (v) => (opts.kubeconfig = v),
    '--kube-context': (v) => (opts.kubeContext = v),
  };
  const booleans: Record<string, () => void> = {
    '--include-crds': () => (opts.includeCrds = true),
    '--skip-tests': () => (opts.skipTests = true),
    '--no-hooks': () => (opts.noHooks = true),
    '--is-upgrade': () => (opts.isUpgrade = true),
    '--debug': () => (opts.debug = true),
    '--validate': () => undefined,
    '--skip-crds': () => undefined,
    '--dependency-update': () => undefined,
    '--devel': () => undefined,
    '--create-namespace': () => undefined,
    '--disable-openapi-validation': () => undefined,
    '--skip-schema-validation': () => (opts.skipSchemaValidation = true),
    '--generate-name': () => (opts.releaseName = opts.releaseName ?? generatedName()),
    '-g': () => (opts.releaseName = opts.releaseName ?? generatedName()),
  };
  for (const item of walkArgv(argv)) {
    if ('positional' in item) {
      positional.push(item.positional);
      continue;
    }
    const { flag, inline } = item;
    // An optional value (pflag's NoOptDefVal): only `--dry-run=VALUE` gives one.
    if (flag === '--dry-run') {
      opts.dryRun = inline ?? 'client';
      continue;
    }
    if (booleans[flag]) {
      if (inline === undefined || inline === 'true') booleans[flag]();
      continue;
    }
    const setter = withValue[flag];
    if (!setter) throw new UsageError(`unknown flag: ${flag}`);
    const value = inline ?? item.takeNext();
    if (value === undefined) throw new UsageError(`flag needs an argument: ${flag}`);
    setter(value);
  }
  if (positional.length < 1)
    throw new UsageError(
      '"helm template" requires at least 1 argument\n\nUsage:  helm template [NAME] [CHART] [flags]',
    );
  if (positional.length > 2)
    throw new UsageError(`expected at most two arguments, unexpected arguments: ${positional.slice(2).join(', ')}`);
  if (positional.length === 2) {
    opts.releaseName = positional[0];
    opts.chartPath = positional[1];
  } else opts.chartPath = positional[0];
  return opts;
}

function generatedName(): string {
  return `chart-${Math.floor(Date.now() / 1000)}`;
}

/** The result Helm prints: stdout text, and an error message if it fails ("Error: " + it). */
export interface TemplateResult {
  stdout: string;
  error?: string;
}

const RELEASE_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function releaseName(opts: TemplateOptions): string {
  if (opts.releaseName) return opts.releaseName;
  if (opts.nameTemplate) {
    const fm = helmFuncMap();
    return renderString('name-template', opts.nameTemplate, null, fm);
  }
  return 'release-name';
}

/** Values.MergeValues: -f files, then --set-json, --set, --set-string, --set-file, --set-literal. */
export function userValues(opts: TemplateOptions): GoMap {
  let base: GoMap = {};
  for (const file of opts.valueFiles) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      throw new Error(`open ${file}: no such file or directory`);
    }
    let v: unknown;
    try {
      v = parseYaml(text);
    } catch (e) {
      throw new Error(`failed to parse ${file}: error converting YAML to JSON: ${(e as Error).message}`, { cause: e });
    }
    if (v !== null && !isMap(v))
      throw new Error(
        `failed to parse ${file}: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${Array.isArray(v) ? 'array' : 'string'} into Go value of type map[string]interface {}`,
      );
    base = mergeMaps(base, v ?? {});
  }
  const apply = (items: string[], flag: string, mode: 'typed' | 'string' | 'json') => {
    for (const item of items) {
      try {
        parseInto(item, base, mode);
      } catch (e) {
        throw new Error(`failed parsing ${flag} data: ${(e as Error).message}`, { cause: e });
      }
    }
  };
  apply(opts.setJson, '--set-json', 'json');
  apply(opts.set, '--set', 'typed');
  apply(opts.setString, '--set-string', 'string');
  // --set-file k=path and --set-literal k=text: the key uses --set's syntax, the value is taken whole.
  const setWhole = (item: string, value: (v: string) => string) => {
    const eq = item.indexOf('=');
    if (eq < 0) throw new Error(`key "${item}" has no value`);
    const holder: GoMap = {};
    parseInto(item.slice(0, eq) + '=x', holder, 'string');
    setDeepString(base, holder, value(item.slice(eq + 1)));
  };
  for (const item of opts.setFile) setWhole(item, (path) => readFileSync(path, 'utf8'));
  for (const item of opts.setLiteral) setWhole(item, (text) => text);
  return base;
}

function setDeepString(base: GoMap, holder: GoMap, content: string): void {
  for (const [k, v] of Object.entries(holder)) {
    if (isMap(v)) {
      if (!isMap(base[k])) base[k] = {};
      setDeepString(base[k] as GoMap, v, content);
    } else base[k] = content;
  }
}

function checkDependencies(chart: Chart): void {
  const missing = (chart.metadata.dependencies ?? [])
    .filter((d) => !chart.dependencies.some((c) => c.metadata.name === d.name))
    .map((d) => d.name);
  if (missing.length > 0)
    throw new Error(
      `An error occurred while checking for chart dependencies. You may need to run \`helm dependency build\` to fetch missing dependencies: found in Chart.yaml, but missing in charts/ directory: ${missing.join(', ')}`,
    );
}

/** CRDObjects: the chart's crds/ files, then its dependencies', with full chart paths. */
function crdObjects(c: Chart): { filename: string; data: string }[] {
  const own = crdFiles(c).map((f) => ({ filename: `${chartFullPath(c)}/${f.name}`, data: f.data.toString('utf8') }));
  return [...own, ...c.dependencies.flatMap(crdObjects)];
}

/** Runs `helm template` and returns what it prints; `lookup` answers templates' lookups (else empty maps). */
export function runTemplate(opts: TemplateOptions, lookup?: EngineOptions['lookup']): TemplateResult {
  if (opts.dryRun !== undefined && !DRY_RUN_VALUES.includes(opts.dryRun))
    return {
      stdout: '',
      error: 'Invalid dry-run flag. Flag must one of the following: false, true, none, client, server',
    };
  let kube: KubeVersion = DEFAULT_KUBE_VERSION;
  try {
    if (opts.kubeVersion) kube = parseKubeVersion(opts.kubeVersion);
  } catch (e) {
    return { stdout: '', error: `invalid kube version '${opts.kubeVersion}': ${(e as Error).message}` };
  }
  let name: string;
  let chart: Chart;
  let vals: GoMap;
  let renderValues: GoMap;
  try {
    vals = userValues(opts);
    name = releaseName(opts);
    if (!RELEASE_NAME_RE.test(name) || name.length > 53)
      throw new Error(
        `release name "${name}": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53`,
      );
    chart = loadChart(opts.chartPath);
    const type = chart.metadata.type ?? '';
    if (type !== '' && type !== 'application') throw new Error(`${type} charts are not installable`);
    if (chart.metadata.dependencies) checkDependencies(chart);
    processDependencies(chart, vals);
    renderValues = coalesceValues(chart, vals, false);
    if (!opts.skipSchemaValidation) validateAgainstSchema(chart, renderValues);
  } catch (e) {
    return { stdout: '', error: (e as Error).message };
  }

  // From here on Helm has a release: errors carry the --debug hint unless --debug is given.
  const capabilities = capabilitiesObject(kube, opts.apiVersions);
  let manifestDoc = '';
  let hooks: ReturnType<typeof sortManifests>['hooks'] = [];
  let failure: string | undefined;
  try {
    if (chart.metadata.kubeVersion && !isCompatibleRange(chart.metadata.kubeVersion, kubeVersionString(capabilities)))
      throw new Error(
        `chart requires kubeVersion: ${chart.metadata.kubeVersion} which is incompatible with Kubernetes ${kubeVersionString(capabilities)}`,
      );
    const top: GoMap = {
      Capabilities: capabilities,
      Release: {
        Name: name,
        Namespace: opts.namespace,
        IsUpgrade: opts.isUpgrade,
        IsInstall: !opts.isUpgrade,
        Revision: 1n,
        Service: 'Helm',
      },
      Values: renderValues,
    };
    const files = render(chart, top, { lookup });
    for (const k of [...files.keys()]) if (k.endsWith('NOTES.txt')) files.delete(k);
    let sorted: ReturnType<typeof sortManifests>;
    try {
      sorted = sortManifests(files);
    } catch (e) {
      if (!(e instanceof ManifestParseError)) throw e;
      for (const k of [...files.keys()].sort()) {
        const content = files.get(k)!;
        if (content.trim() !== '') manifestDoc += `---\n# Source: ${k}\n${content}\n`;
      }
      throw e;
    }
    hooks = sorted.hooks;
    if (opts.includeCrds)
      for (const crd of crdObjects(chart)) manifestDoc += `---\n# Source: ${crd.filename}\n${crd.data}\n`;
    for (const m of sorted.manifests) manifestDoc += `---\n# Source: ${m.name}\n${m.content}\n`;
  } catch (e) {
    failure = (e as Error).message;
    if (!opts.debug) return { stdout: '', error: `${failure}\n\nUse --debug flag to render out invalid YAML` };
  }

  let manifests = manifestDoc.trim() + '\n';
  if (!opts.noHooks) {
    for (const h of hooks) {
      if (opts.skipTests && h.events.includes('test')) continue;
      manifests += `---\n# Source: ${h.name}\n${h.content}\n`;
    }
  }
  let stdout = manifests;
  if (opts.showOnly.length > 0) {
    stdout = '';
    const docs = splitManifests(manifests);
    for (const pattern of opts.showOnly) {
      let missing = true;
      for (const doc of docs) {
        const m = /# Source: [^/]+\/(.+)/.exec(doc);
        if (!m || !pathMatch(pattern, m[1])) continue;
        stdout += `---\n${doc}\n`;
        missing = false;
      }
      if (missing) return { stdout: '', error: failure ?? `could not find template ${pattern} in chart` };
    }
  }
  return { stdout, error: failure };
}

/** The whole command: argv after "template" included, output as Helm would write it. */
export function templateCommand(argv: string[]): TemplateResult {
  let opts: TemplateOptions;
  try {
    opts = parseTemplateArgs(argv[0] === 'template' ? argv.slice(1) : argv);
  } catch (e) {
    return { stdout: '', error: (e as Error).message };
  }
  return runTemplate(opts);
}
