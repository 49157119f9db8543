// `k8ts chart install|upgrade|rollback|uninstall|list|status|history|get` with helm's flag names
// and output formats (tables, -o json|yaml, the status block with NOTES).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '../../client/client.js';
import { loadChart, type Chart } from '../chart.js';
import { userValues, UsageError, type TemplateOptions } from '../template-command.js';
import { walkArgv } from '../argv.js';
import { marshalYaml } from '../yaml.js';
import { ReleaseActions } from './actions.js';
import { valuesJson, type Release, type ReleaseStatus } from './release.js';
import { isOciRef, ociOptions, pullOci } from './oci.js';
import { pullChart } from './repo.js';
import { byName } from '../../machinery/order.js';

export interface Parsed {
  args: string[];
  flags: Map<string, string[]>;
}

/** Flags of all release commands: value flags take an argument, the rest are booleans. */
const VALUE_FLAGS = new Set([
  '-n',
  '--namespace',
  '-f',
  '--values',
  '--set',
  '--set-string',
  '--set-json',
  '--set-file',
  '--set-literal',
  '--version',
  '--timeout',
  '--description',
  '-o',
  '--output',
  '--revision',
  '--max',
  '--history-max',
  '--kubeconfig',
  '--kube-context',
  '--repo',
  '--filter',
  '--destination',
  '-d',
  '--untardir',
  '--output-dir',
  '--app-version',
  '--name-template',
  '--username',
  '--password',
  '--ca-file',
  '--cert-file',
  '--key-file',
]);
const ALIASES: Record<string, string> = {
  '-n': '--namespace',
  '-f': '--values',
  '-o': '--output',
  '-i': '--install',
  '-A': '--all-namespaces',
  '-a': '--all',
  '-q': '--short',
  '-g': '--generate-name',
  '-d': '--destination',
};

export function parseFlags(argv: string[]): Parsed {
  const flags = new Map<string, string[]>();
  const args: string[] = [];
  const add = (k: string, v: string) => flags.set(k, [...(flags.get(k) ?? []), v]);
  for (const item of walkArgv(argv)) {
    if ('positional' in item) {
      args.push(item.positional);
      continue;
    }
    const { flag: raw, inline } = item;
    if (VALUE_FLAGS.has(raw)) {
      const v = inline ?? item.takeNext();
      if (v === undefined) throw new UsageError(`flag needs an argument: ${raw}`);
      add(ALIASES[raw] ?? raw, v);
    } else add(ALIASES[raw] ?? raw, inline ?? 'true');
  }
  return { args, flags };
}

const one = (p: Parsed, k: string) => p.flags.get(k)?.at(-1);
const bool = (p: Parsed, k: string) => {
  const v = one(p, k);
  return v !== undefined && v !== 'false';
};

/** Go's time.ParseDuration for --timeout (5m0s, 30s, 1h). */
export function parseTimeout(v: string | undefined): number {
  if (!v) return 300_000;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(v))) {
    ms += Number(m[1]) * units[m[2]];
    consumed += m[0].length;
  }
  if (consumed !== v.length || consumed === 0) throw new UsageError(`invalid argument "${v}" for "--timeout" flag`);
  return ms;
}

export function valuesOf(p: Parsed): TemplateOptions {
  const list = (k: string) => p.flags.get(k) ?? [];
  return {
    chartPath: '',
    namespace: '',
    valueFiles: list('--values').flatMap((v) => v.split(',')),
    set: list('--set'),
    setString: list('--set-string'),
    setJson: list('--set-json'),
    setFile: list('--set-file'),
    setLiteral: list('--set-literal'),
    apiVersions: [],
    includeCrds: false,
    skipTests: false,
    noHooks: false,
    showOnly: [],
    isUpgrade: false,
    debug: false,
    skipSchemaValidation: false,
  };
}

export function kubeconfigPath(flag: string | undefined): string {
  const path = flag ?? process.env.KUBECONFIG ?? join(process.env.K8TS_DATA_DIR ?? defaultDataDir(), 'kubeconfig.yaml');
  if (!existsSync(path)) throw new Error(`Kubernetes cluster unreachable: no kubeconfig at ${path}`);
  return path;
}

function defaultDataDir(): string {
  return process.getuid?.() === 0 ? '/var/lib/k8ts' : join(process.env.HOME ?? '.', '.k8ts');
}

/** A chart from a path, from an OCI registry, or pulled from --repo first (--version constraint). */
async function chartOf(p: Parsed, ref: string): Promise<Chart> {
  if (isOciRef(ref)) {
    const pulled = await pullOci(
      ref,
      one(p, '--version'),
      ociOptions((k) => one(p, k)),
    );
    const { loadArchive } = await import('../chart.js');
    return loadArchive(pulled.data);
  }
  const repo = one(p, '--repo');
  if (!repo) return loadChart(ref);
  const pulled = await pullChart({ repo, chart: ref, version: one(p, '--version') });
  const { loadArchive } = await import('../chart.js');
  return loadArchive(pulled.data);
}

/** Go's time.ANSIC ("Mon Jan _2 15:04:05 2006"), in UTC. */
function ansic(iso: string): string {
  const d = new Date(iso);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** Go's time.Time.String() in UTC ("2006-01-02 15:04:05.123 +0000 UTC"). */
function goTimeString(iso: string): string {
  const m = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?/.exec(iso);
  if (!m) return iso;
  const frac = (m[3] ?? '').replace(/0+$/, '');
  return `${m[1]} ${m[2]}${frac ? '.' + frac : ''} +0000 UTC`;
}

/** uitable as Helm uses it: cells padded to their column's width, joined by tabs. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => Math.min(60, (r[i] ?? '').length))));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => c.slice(0, 60).padEnd(widths[i]))
          .join('\t')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

const chartRef = (r: Release) => `${r.chart.metadata.name}-${r.chart.metadata.version}`;

function formatted(value: unknown, format: string | undefined): string | undefined {
  if (format === 'json') return valuesJson(value) + '\n';
  if (format === 'yaml') return marshalYaml(JSON.parse(valuesJson(value)));
  if (format !== undefined && format !== 'table')
    throw new UsageError(`invalid format type "${format}"; must be one of table, json, yaml`);
  return undefined;
}

/** `helm status`'s block (install, upgrade and status print it). */
export function statusText(r: Release, opts: { showDescription?: boolean; dryRun?: boolean } = {}): string {
  let out = `NAME: ${r.name}\nLAST DEPLOYED: ${ansic(r.info.last_deployed)}\nNAMESPACE: ${r.namespace}\nSTATUS: ${r.info.status}\nREVISION: ${r.version}\n`;
  if (opts.showDescription) out += `DESCRIPTION: ${r.info.description ?? ''}\n`;
  out += 'TEST SUITE: None\n';
  if (opts.dryRun) {
    out += 'HOOKS:\n';
    for (const h of r.hooks ?? []) out += `---\n# Source: ${h.path}\n${h.manifest}\n`;
    out += `MANIFEST:\n${r.manifest ?? ''}`;
  }
  if (r.info.notes) out += `\nNOTES:\n${r.info.notes.trim()}\n`;
  return out;
}

export interface CommandIO {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Progress lines go to stderr when it is a terminal (or always, when set). */
  progress?: boolean;
}

async function withActions<T>(p: Parsed, fn: (a: ReleaseActions) => Promise<T>): Promise<T> {
  const kubeconfig = kubeconfigPath(one(p, '--kubeconfig'));
  const context = one(p, '--kube-context');
  const client = Client.fromKubeconfig(kubeconfig, { fieldManager: 'helm', context });
  // Helm's lookup queries the cluster except in a client-side dry run (`--dry-run`, `=client`).
  const dryRun = one(p, '--dry-run');
  const offline = dryRun !== undefined && dryRun !== 'false' && dryRun !== 'none' && dryRun !== 'server';
  try {
    return await fn(new ReleaseActions(client, { offline }));
  } finally {
    await client.close();
  }
}

function needArgs(args: string[], n: number, usage: string): void {
  if (args.length < n) throw new UsageError(`"helm ${usage}" requires at least ${n} argument${n > 1 ? 's' : ''}`);
}

/** Runs one release command; argv starts with the subcommand name. */
export async function releaseCommand(argv: string[], io: CommandIO): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    const p = parseFlags(rest);
    const ns = one(p, '--namespace') ?? 'default';
    const log = io.progress ? (line: string) => io.stderr(line + '\n') : undefined;
    const common = {
      namespace: ns,
      wait: bool(p, '--wait'),
      timeoutMs: parseTimeout(one(p, '--timeout')),
      noHooks: bool(p, '--no-hooks'),
      dryRun: bool(p, '--dry-run') && one(p, '--dry-run') !== 'none',
      description: one(p, '--description'),
      log,
    };
    switch (cmd) {
      case 'install': {
        let [name, ref] = p.args;
        if (bool(p, '--generate-name')) {
          ref = p.args[0];
          name = undefined as unknown as string;
        }
        if (!ref)
          throw new UsageError(
            '"helm install" requires at least 1 argument\n\nUsage:  helm install [NAME] [CHART] [flags]',
          );
        const chart = await chartOf(p, ref);
        name ??= `${chart.metadata.name}-${Math.floor(Date.now() / 1000)}`;
        const rel = await withActions(p, (a) =>
          a.install({
            ...common,
            name,
            chart,
            config: userValues(valuesOf(p)),
            createNamespace: bool(p, '--create-namespace'),
            atomic: bool(p, '--atomic'),
            skipCrds: bool(p, '--skip-crds'),
            replace: bool(p, '--replace'),
            skipSchemaValidation: bool(p, '--skip-schema-validation'),
          }),
        );
        io.stdout(formatted(rel, one(p, '--output')) ?? statusText(rel, { dryRun: common.dryRun }));
        return 0;
      }
      case 'upgrade': {
        needArgs(p.args, 2, 'upgrade');
        const [name, ref] = p.args;
        const chart = await chartOf(p, ref);
        const rel = await withActions(p, async (a) => {
          const r = await a.upgrade({
            ...common,
            name,
            chart,
            config: userValues(valuesOf(p)),
            install: bool(p, '--install'),
            createNamespace: bool(p, '--create-namespace'),
            atomic: bool(p, '--atomic'),
            skipCrds: bool(p, '--skip-crds'),
            reuseValues: bool(p, '--reuse-values'),
            resetValues: bool(p, '--reset-values'),
            historyMax: one(p, '--history-max') ? Number(one(p, '--history-max')) : undefined,
            skipSchemaValidation: bool(p, '--skip-schema-validation'),
          });
          return r;
        });
        const text = formatted(rel, one(p, '--output'));
        io.stdout(
          text ?? `Release "${name}" has been upgraded. Happy Helming!\n` + statusText(rel, { dryRun: common.dryRun }),
        );
        return 0;
      }
      case 'rollback': {
        needArgs(p.args, 1, 'rollback');
        const [name, rev] = p.args;
        await withActions(p, (a) => a.rollback({ ...common, name, version: rev ? Number(rev) : undefined }));
        io.stdout('Rollback was a success! Happy Helming!\n');
        return 0;
      }
      case 'uninstall':
      case 'delete':
      case 'del':
      case 'un': {
        needArgs(p.args, 1, 'uninstall');
        for (const name of p.args) {
          const rel = await withActions(p, (a) =>
            a.uninstall({ ...common, name, keepHistory: bool(p, '--keep-history') }),
          );
          io.stdout(`release "${rel.name}" uninstalled\n`);
        }
        return 0;
      }
      case 'list':
      case 'ls':
        return await list(p, io);
      case 'status': {
        needArgs(p.args, 1, 'status');
        const rel = await withActions(p, (a) => a.get(p.args[0], ns, Number(one(p, '--revision') ?? 0)));
        io.stdout(formatted(rel, one(p, '--output')) ?? statusText(rel, { showDescription: bool(p, '--show-desc') }));
        return 0;
      }
      case 'history':
      case 'hist': {
        needArgs(p.args, 1, 'history');
        let history = await withActions(p, (a) => a.storage.history(p.args[0], ns));
        if (history.length === 0) throw new Error('release: not found');
        history = history.slice(-Number(one(p, '--max') ?? 256));
        const rows = history.map((r) => ({
          revision: r.version,
          updated: r.info.last_deployed,
          status: r.info.status,
          chart: chartRef(r),
          app_version: r.chart.metadata.appVersion ?? '',
          description: r.info.description ?? '',
        }));
        io.stdout(
          formatted(rows, one(p, '--output')) ??
            table([
              ['REVISION', 'UPDATED', 'STATUS', 'CHART', 'APP VERSION', 'DESCRIPTION'],
              ...rows.map((r) => [
                String(r.revision),
                ansic(r.updated),
                r.status,
                r.chart,
                r.app_version,
                r.description,
              ]),
            ]),
        );
        return 0;
      }
      case 'get': {
        const [what, name] = p.args;
        if (!name) throw new UsageError(`"helm get ${what ?? ''}" requires 1 argument`);
        const rel = await withActions(p, (a) => a.get(name, ns, Number(one(p, '--revision') ?? 0)));
        if (what === 'manifest') io.stdout(rel.manifest ?? '');
        else if (what === 'notes') io.stdout(`NOTES:\n${rel.info.notes ?? ''}\n`);
        else if (what === 'values') {
          const all = bool(p, '--all');
          const values = all ? ReleaseActions.computedValues(rel) : (rel.config ?? null);
          const text = formatted(values, one(p, '--output'));
          io.stdout(
            text ??
              `${all ? 'COMPUTED VALUES' : 'USER-SUPPLIED VALUES'}:\n${marshalYaml(JSON.parse(valuesJson(values)))}`,
          );
        } else throw new UsageError(`unknown command "${what}" for "helm get"`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    const prefix =
      cmd === 'upgrade' && !(e instanceof UsageError)
        ? 'UPGRADE FAILED: '
        : cmd === 'install' && !(e instanceof UsageError)
          ? 'INSTALLATION FAILED: '
          : '';
    io.stderr(`Error: ${prefix}${(e as Error).message}\n`);
    return 1;
  }
}

async function list(p: Parsed, io: CommandIO): Promise<number> {
  const all = bool(p, '--all-namespaces');
  const ns = all ? undefined : (one(p, '--namespace') ?? 'default');
  const records = await withActions(p, (a) => a.storage.list(ns));
  // The newest revision of each release, filtered by status as helm list filters.
  const latest = new Map<string, Release>();
  for (const r of records) {
    const key = `${r.namespace}/${r.name}`;
    if ((latest.get(key)?.version ?? 0) < r.version) latest.set(key, r);
  }
  const wanted = new Set<ReleaseStatus>();
  if (bool(p, '--deployed')) wanted.add('deployed');
  if (bool(p, '--failed')) wanted.add('failed');
  if (bool(p, '--uninstalled')) wanted.add('uninstalled');
  if (bool(p, '--superseded')) wanted.add('superseded');
  if (bool(p, '--uninstalling')) wanted.add('uninstalling');
  if (bool(p, '--pending'))
    ['pending-install', 'pending-upgrade', 'pending-rollback'].forEach((s) => wanted.add(s as ReleaseStatus));
  if (wanted.size === 0 && !bool(p, '--all')) ['deployed', 'failed'].forEach((s) => wanted.add(s as ReleaseStatus));
  const filter = one(p, '--filter');
  const rels = [...latest.values()]
    .filter((r) => wanted.size === 0 || wanted.has(r.info.status))
    .filter((r) => !filter || new RegExp(filter).test(r.name))
    .sort(byName);
  if (bool(p, '--short')) {
    io.stdout(rels.map((r) => r.name + '\n').join(''));
    return 0;
  }
  const rows = rels.map((r) => ({
    name: r.name,
    namespace: r.namespace,
    revision: String(r.version),
    updated: goTimeString(r.info.last_deployed),
    status: r.info.status,
    chart: chartRef(r),
    app_version: r.chart.metadata.appVersion ?? '',
  }));
  io.stdout(
    formatted(rows, one(p, '--output')) ??
      table([
        ['NAME', 'NAMESPACE', 'REVISION', 'UPDATED', 'STATUS', 'CHART', 'APP VERSION'],
        ...rows.map((r) => [r.name, r.namespace, r.revision, r.updated, r.status, r.chart, r.app_version]),
      ]),
  );
  return 0;
}
