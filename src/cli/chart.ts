// `k8ts chart ...`: Helm's commands on the native chart engine (src/chart). Flags keep Helm's
// names, so they are parsed by the chart code, not by commander.
import type { Command } from 'commander';

const io = () => ({
  stdout: (s: string) => process.stdout.write(s),
  stderr: (s: string) => process.stderr.write(s),
  // --wait progress and hook runs are shown on a terminal only, as Helm's spinner-free log.
  progress: process.stderr.isTTY || process.env.K8TS_CHART_PROGRESS === '1',
});

/** A subcommand that hands its raw arguments to `run`. */
function passthrough(
  chart: Command,
  name: string,
  description: string,
  usage: string,
  run: (args: string[]) => Promise<number>,
  aliases: string[] = [],
): void {
  chart
    .command(name)
    .aliases(aliases)
    .description(description)
    .usage(usage)
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]')
    .action(async (_args: string[], _opts: unknown, cmd: Command) => {
      process.exitCode = await run(cmd.args);
    });
}

async function guarded(fn: () => Promise<number> | number): Promise<number> {
  try {
    return await fn();
  } catch (e) {
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    return 1;
  }
}

async function template(args: string[]): Promise<number> {
  if (args.some((a) => a === '--output-dir' || a.startsWith('--output-dir='))) {
    const { templateToDir } = await import('../chart/release/tools.js');
    return guarded(() => templateToDir(args, io()));
  }
  // Offline unless --dry-run=server (or none/false) asks for lookups: the API client, which the
  // cluster-aware path loads, stays out of a plain render's start-up.
  const { parseTemplateArgs, templateCommand, templateLooksUp } = await import('../chart/template-command.js');
  let online = false;
  try {
    online = templateLooksUp(parseTemplateArgs(args[0] === 'template' ? args.slice(1) : args));
  } catch {
    // templateCommand reports the usage error.
  }
  const result = online ? await (await import('../chart/release/tools.js')).templateRun(args) : templateCommand(args);
  process.stdout.write(result.stdout);
  if (result.error === undefined) return 0;
  process.stderr.write(`Error: ${result.error}\n`);
  return 1;
}

export function registerChartCommands(program: Command): void {
  const chart = program.command('chart').description('Work with Helm charts without helm (see docs/charts.md)');
  passthrough(
    chart,
    'template',
    'Render a chart locally like `helm template [NAME] CHART [flags]`',
    '[NAME] CHART [--values file] [--set k=v] [--show-only path] [--include-crds] [--output-dir DIR] [...helm flags]',
    async (given) => {
      if (!given.some((a) => a.startsWith('oci://'))) return template(given);
      const { withOciChart } = await import('../chart/release/tools.js');
      return guarded(() => withOciChart(given, template));
    },
  );
  const release = (name: string, description: string, usage: string, aliases: string[] = []) =>
    passthrough(
      chart,
      name,
      description,
      usage,
      async (args) => {
        const { releaseCommand } = await import('../chart/release/command.js');
        return releaseCommand([name, ...args], io());
      },
      aliases,
    );
  release(
    'install',
    'Install a chart as a release (helm install)',
    '[NAME] CHART [-n NS] [--create-namespace] [-f values] [--set k=v] [--wait] [--atomic] [--timeout 5m0s] [--dry-run] [--repo URL --version V]',
  );
  release(
    'upgrade',
    'Upgrade a release (helm upgrade)',
    'NAME CHART [--install] [--reuse-values|--reset-values] [-f values] [--set k=v] [--wait] [--atomic]',
  );
  release('rollback', 'Roll a release back to a revision (helm rollback)', 'NAME [REVISION] [--wait]');
  release('uninstall', 'Uninstall a release (helm uninstall)', 'NAME... [--keep-history]', ['delete']);
  release('list', 'List releases (helm list)', '[-n NS | -A] [-a] [-o table|json|yaml]', ['ls']);
  release('status', "Show a release's status (helm status)", 'NAME [--revision N] [-o table|json|yaml]');
  release('history', "Show a release's revisions (helm history)", 'NAME [--max N] [-o table|json|yaml]', ['hist']);
  release(
    'get',
    "Show a release's values or manifest (helm get values|manifest|notes)",
    'values|manifest|notes NAME [--revision N] [--all] [-o json|yaml]',
  );
  passthrough(
    chart,
    'pull',
    'Download a chart from a repository or an OCI registry (helm pull)',
    'CHART --repo URL | oci://HOST/REPO/NAME [--version CONSTRAINT] [--untar] [-d DIR] [--plain-http] [--insecure-skip-tls-verify] [--username U --password P]',
    async (args) => {
      const { pullCommand } = await import('../chart/release/tools.js');
      return guarded(() => pullCommand(args, io()));
    },
  );
  passthrough(
    chart,
    'push',
    'Push a packaged chart to an OCI registry (helm push)',
    'CHART.tgz oci://HOST/PATH [--plain-http] [--insecure-skip-tls-verify] [--username U --password P]',
    async (args) => {
      const { pushCommand } = await import('../chart/release/tools.js');
      return guarded(() => pushCommand(args, io()));
    },
  );
  passthrough(
    chart,
    'package',
    'Package a chart directory into NAME-VERSION.tgz (helm package)',
    'DIR... [-d DIR] [--version V] [--app-version V]',
    async (args) => {
      const { packageCommand } = await import('../chart/release/tools.js');
      return guarded(() => packageCommand(args, io()));
    },
  );
  passthrough(
    chart,
    'lint',
    'Check a chart for problems (helm lint)',
    '[DIR...] [-f values] [--set k=v]',
    async (args) => {
      const { lintCommand } = await import('../chart/release/tools.js');
      return guarded(() => lintCommand(args, io()));
    },
  );
}
