// `k8ts chart template`: Helm's `helm template` rendered by the native chart renderer
// (src/chart). Flags keep Helm's names, so they are parsed by the renderer, not by commander.
import type { Command } from 'commander';

export function registerChartCommands(program: Command): void {
  const chart = program.command('chart').description('Work with Helm charts without helm (see docs/charts.md)');
  chart
    .command('template')
    .description('Render a chart locally like `helm template [NAME] CHART [flags]`')
    .usage('[NAME] CHART [--values file] [--set k=v] [--show-only path] [--include-crds] [...helm flags]')
    .helpOption(false)
    .allowUnknownOption(true)
    .allowExcessArguments(true)
    .argument('[args...]')
    .action(async (_args: string[], _opts: unknown, cmd: Command) => {
      const { templateCommand } = await import('../chart/template-command.js');
      const result = templateCommand(cmd.args);
      process.stdout.write(result.stdout);
      if (result.error !== undefined) {
        process.stderr.write(`Error: ${result.error}\n`);
        process.exitCode = 1;
      }
    });
}
