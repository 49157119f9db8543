// Flags several k8ts commands share, defined once: logging (with upstream's -v verbosity mapped
// to a log level before the command runs), the kubeconfig of a remote API server, and the
// leader-election flags of the standalone control-plane components.
import { Command, Option } from 'commander';

/** --log-level, and with `verbosity` also -v/--v (>=4 debug, >=6 trace, as upstream's klog levels). */
export function withLogFlags(cmd: Command, verbosity = true): Command {
  cmd.addOption(
    new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  );
  if (!verbosity) return cmd;
  return cmd.option('-v, --v <n>', 'upstream-style verbosity (>=4 debug, >=6 trace)').hook('preAction', (c) => {
    const v = c.opts().v;
    if (v !== undefined)
      c.setOptionValue('logLevel', Number(v) >= 6 ? 'trace' : Number(v) >= 4 ? 'debug' : c.opts().logLevel);
  });
}

export function withKubeconfigFlags(cmd: Command): Command {
  return cmd
    .option('--kubeconfig <file>', 'kubeconfig of the API server (default $KUBECONFIG)')
    .option('--context <name>', 'kubeconfig context');
}

/** Upstream's --leader-elect* flags for a component whose Lease is kube-system/<lease>. */
export function withLeaderElectFlags(cmd: Command, lease: string): Command {
  return cmd
    .option('--leader-elect [bool]', `take the kube-system/${lease} Lease before acting`, 'true')
    .option(
      '--leader-elect-lease-duration <duration>',
      'how long a standby waits before taking over a lease that stopped being renewed',
      '15s',
    )
    .option(
      '--leader-elect-renew-deadline <duration>',
      'how long the leader keeps trying to renew before giving up leading',
      '10s',
    )
    .option('--leader-elect-retry-period <duration>', 'how often candidates try to acquire or renew the lease', '2s')
    .option('--leader-elect-resource-name <name>', 'name of the Lease', lease)
    .option('--leader-elect-resource-namespace <ns>', 'namespace of the Lease', 'kube-system');
}
