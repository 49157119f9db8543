// `k8ts chart pull|package|lint` and `template --output-dir`: the commands that work on chart
// files rather than on a cluster.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadArchive, loadChart } from '../chart.js';
import {
  parseTemplateArgs,
  runTemplate,
  templateLooksUp,
  UsageError,
  userValues,
  type TemplateOptions,
  type TemplateResult,
} from '../template-command.js';
import type { Client } from '../../client/client.js';
import { renderWithLookups } from './lookup.js';
import { readTarGz } from '../tar.js';
import { kubeconfigPath, parseFlags, valuesOf, type CommandIO } from './command.js';
import { isOciRef, ociOptions, pullOci, pushOci } from './oci.js';
import { packageChart, pullChart } from './repo.js';
import { renderRelease } from './render.js';

const one = (p: ReturnType<typeof parseFlags>, k: string) => p.flags.get(k)?.at(-1);
const bool = (p: ReturnType<typeof parseFlags>, k: string) => {
  const v = one(p, k);
  return v !== undefined && v !== 'false';
};

function untar(data: Buffer, dir: string): void {
  for (const e of readTarGz(data)) {
    const target = resolve(dir, e.name);
    if (!target.startsWith(resolve(dir) + '/'))
      throw new Error(`chart archive has a path outside its directory: ${e.name}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, e.data);
  }
}

export async function pullCommand(argv: string[], io?: CommandIO): Promise<number> {
  const p = parseFlags(argv);
  const [ref] = p.args;
  if (!ref) throw new UsageError('"helm pull" requires at least 1 argument');
  if (isOciRef(ref)) {
    const pulled = await pullOci(
      ref,
      one(p, '--version'),
      ociOptions((k) => one(p, k)),
    );
    io?.stdout(`Pulled: ${pulled.ref}\nDigest: ${pulled.digest}\n`);
    save(p, pulled);
    return 0;
  }
  let repo = one(p, '--repo');
  let chart = ref;
  if (!repo) {
    // A full URL of a chart archive, or repo-url/chart.
    const m = /^(https?:\/\/.+)\/([^/]+)$/.exec(ref);
    if (!m)
      throw new Error(`non-absolute URLs should be in form of repo_name/path_to_chart, got: ${ref} (use --repo URL)`);
    [, repo, chart] = m;
  }
  const pulled = chart.endsWith('.tgz')
    ? await (async () => {
        const res = await fetch(`${repo}/${chart}`);
        if (!res.ok) throw new Error(`failed to fetch ${repo}/${chart} : ${res.status} ${res.statusText}`);
        return { filename: chart, version: '', data: Buffer.from(await res.arrayBuffer()) };
      })()
    : await pullChart({ repo: repo, chart, version: one(p, '--version'), devel: bool(p, '--devel') });
  save(p, pulled);
  return 0;
}

/** --destination, --untar, --untardir: where a pulled archive goes. */
function save(p: ReturnType<typeof parseFlags>, pulled: { filename: string; data: Buffer }): void {
  const dest = one(p, '--destination') ?? '.';
  mkdirSync(dest, { recursive: true });
  if (bool(p, '--untar')) {
    const dir = one(p, '--untardir') ?? '.';
    untar(pulled.data, join(dest, dir));
  } else writeFileSync(join(dest, pulled.filename), pulled.data);
}

/** `helm push CHART.tgz oci://HOST/PATH`: prints what was pushed and its manifest digest. */
export async function pushCommand(argv: string[], io: CommandIO): Promise<number> {
  const p = parseFlags(argv);
  if (p.args.length !== 2)
    throw new UsageError('"helm push" requires 2 arguments\n\nUsage:  helm push [chart] [remote] [flags]');
  const [archive, remote] = p.args;
  const pushed = await pushOci(
    readFileSync(archive),
    remote,
    ociOptions((k) => one(p, k)),
  );
  io.stdout(`Pushed: ${pushed.ref}\nDigest: ${pushed.digest}\n`);
  return 0;
}

/**
 * `chart template oci://...`: the chart pulled into a temporary archive whose path replaces the
 * reference, and the registry flags taken out (the template command knows none of them).
 */
export async function withOciChart<T>(argv: string[], run: (argv: string[]) => Promise<T> | T): Promise<T> {
  const p = parseFlags(argv);
  const ref = p.args.find(isOciRef);
  if (!ref) return run(argv);
  const pulled = await pullOci(
    ref,
    one(p, '--version'),
    ociOptions((k) => one(p, k)),
  );
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-oci-'));
  try {
    const path = join(dir, pulled.filename);
    writeFileSync(path, pulled.data);
    const rest: string[] = [];
    const valued = new Set(['--username', '--password', '--ca-file', '--cert-file', '--key-file']);
    const booleans = new Set(['--plain-http', '--insecure-skip-tls-verify']);
    for (let i = 0; i < argv.length; i++) {
      const flag = argv[i].split('=', 1)[0];
      if (argv[i] === ref) rest.push(path);
      else if (booleans.has(flag)) continue;
      else if (valued.has(flag)) {
        if (!argv[i].includes('=')) i++;
      } else rest.push(argv[i]);
    }
    return await run(rest);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function packageCommand(argv: string[], io: CommandIO): number {
  const p = parseFlags(argv);
  if (p.args.length === 0) throw new UsageError('need at least one argument, the path to the chart');
  const dest = one(p, '--destination') ?? '.';
  for (const dir of p.args) {
    const pkg = packageChart(dir, { version: one(p, '--version'), appVersion: one(p, '--app-version') });
    mkdirSync(dest, { recursive: true });
    const path = resolve(dest, pkg.filename);
    writeFileSync(path, pkg.data);
    io.stdout(`Successfully packaged chart and saved it to: ${path}\n`);
  }
  return 0;
}

/** `helm lint`: loading, rendering with the chart's values (and -f/--set), Chart.yaml advice. */
export function lintCommand(argv: string[], io: CommandIO): number {
  const p = parseFlags(argv);
  const paths = p.args.length ? p.args : ['.'];
  let failed = 0;
  const values = valuesOf(p);
  for (const path of paths) {
    const messages: string[] = [];
    let errors = 0;
    try {
      const chart = /\.tgz$/.test(path) ? loadArchive(readFileSync(path)) : loadChart(path);
      if (!chart.metadata.icon) messages.push('[INFO] Chart.yaml: icon is recommended');
      if (Object.keys(chart.values).length === 0) messages.push('[INFO] values.yaml: file does not exist or is empty');
      if (chart.metadata.type !== 'library') {
        try {
          renderRelease({
            chart,
            config: userValues({ ...values, chartPath: path }),
            name: 'test-release',
            namespace: one(p, '--namespace') ?? 'test-namespace',
            revision: 1,
            isUpgrade: false,
          });
        } catch (e) {
          messages.push(`[ERROR] templates/: ${(e as Error).message}`);
          errors++;
        }
      }
    } catch (e) {
      messages.push(`[ERROR] Chart.yaml: ${(e as Error).message}`);
      errors++;
    }
    io.stdout(`==> Linting ${path}\n${messages.map((m) => m + '\n').join('')}\n`);
    if (errors > 0) failed++;
  }
  const summary = `${paths.length} chart(s) linted, ${failed} chart(s) failed\n`;
  if (failed > 0) {
    io.stdout(summary);
    io.stderr(`Error: ${summary}`);
    return 1;
  }
  io.stdout(summary);
  return 0;
}

/**
 * `chart template` (argv after "template"): offline, or with `--dry-run=server` (Helm 3.13+; also
 * `=none`/`=false`) with `lookup` answered by the cluster of the kubeconfig.
 */
export async function templateRun(argv: string[]): Promise<TemplateResult> {
  let opts: TemplateOptions;
  try {
    opts = parseTemplateArgs(argv[0] === 'template' ? argv.slice(1) : argv);
  } catch (e) {
    return { stdout: '', error: (e as Error).message };
  }
  if (!templateLooksUp(opts)) return runTemplate(opts);
  // The API client is loaded only here: an offline `chart template` starts without it.
  const [{ Client }, { ClusterLookup }] = await Promise.all([
    import('../../client/client.js'),
    import('./clusterlookup.js'),
  ]);
  let client: Client;
  try {
    client = Client.fromKubeconfig(kubeconfigPath(opts.kubeconfig), {
      fieldManager: 'helm',
      context: opts.kubeContext,
    });
  } catch (e) {
    return { stdout: '', error: (e as Error).message };
  }
  try {
    return await renderWithLookups(new ClusterLookup(client), (lookup) => runTemplate(opts, lookup));
  } catch (e) {
    return { stdout: '', error: (e as Error).message };
  } finally {
    await client.close();
  }
}

/** `template --output-dir DIR`: each manifest written under DIR/<its source path>, as Helm does. */
export async function templateToDir(argv: string[], io: CommandIO): Promise<number> {
  const i = argv.findIndex((a) => a === '--output-dir' || a.startsWith('--output-dir='));
  const dir = argv[i].includes('=') ? argv[i].slice('--output-dir='.length) : argv[i + 1];
  const rest = argv[i].includes('=')
    ? [...argv.slice(0, i), ...argv.slice(i + 1)]
    : [...argv.slice(0, i), ...argv.slice(i + 2)];
  const result = await templateRun(rest);
  if (result.error !== undefined) {
    io.stderr(`Error: ${result.error}\n`);
    return 1;
  }
  const written = new Set<string>();
  for (const doc of result.stdout.split(/^---\n/m)) {
    const m = /^# Source: (.+)\n/.exec(doc);
    if (!m) continue;
    const target = join(dir, m[1]);
    mkdirSync(dirname(target), { recursive: true });
    const text = `---\n${doc.endsWith('\n') ? doc : doc + '\n'}`;
    if (written.has(target)) writeFileSync(target, text, { flag: 'a' });
    else {
      writeFileSync(target, text);
      written.add(target);
    }
    io.stdout(`wrote ${target}\n`);
  }
  return 0;
}
