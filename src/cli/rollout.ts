// `k8ts rollout promote|abort|retry|status NAME`: the kubectl-argo-rollouts commands for Rollouts
// (src/rollouts, docs/rollouts.md), writing the same status patches the Argo plugin writes.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Rollout } from '../rollouts/types.js';

interface RolloutFlags {
  namespace?: string;
  kubeconfig?: string;
  full?: boolean;
  watch?: boolean;
  timeout?: string;
}

async function rollouts(flags: RolloutFlags) {
  const { Client } = await import('../client/client.js');
  const { defaultDataDir } = await import('./datadir.js');
  const { ROLLOUTS } = await import('../rollouts/types.js');
  const path =
    flags.kubeconfig ??
    process.env.KUBECONFIG ??
    join(process.env.K8TS_DATA_DIR ?? defaultDataDir(), 'kubeconfig.yaml');
  if (!existsSync(path)) throw new Error(`no kubeconfig at ${path}; is \`k8ts server\` running?`);
  const client = Client.fromKubeconfig(path, { fieldManager: 'k8ts-rollout' });
  return { client, rollouts: client.resource(ROLLOUTS).namespace(flags.namespace ?? 'default') };
}

/** The status and spec patches of `promote` (Argo's getPatches without the deprecated skip flags). */
export function promotePatches(ro: Rollout, full: boolean): { status?: object; spec?: object } {
  const spec = ro.spec.paused ? { spec: { paused: false } } : undefined;
  if (full)
    return {
      spec,
      status: ro.status?.currentPodHash !== ro.status?.stableRS ? { status: { promoteFull: true } } : undefined,
    };
  if (ro.status?.pauseConditions?.length) return { spec, status: { status: { pauseConditions: null } } };
  const steps = ro.spec.strategy.canary?.steps;
  if (steps) {
    const idx = Math.min((ro.status?.currentStepIndex ?? 0) + 1, steps.length);
    return { spec, status: { status: { pauseConditions: null, currentStepIndex: idx } } };
  }
  return { spec };
}

/** One line per state, as kubectl argo rollouts status prints it, with the canary step when there is one. */
export function statusLine(ro: Rollout): string {
  const st = ro.status ?? {};
  const phase = st.phase ?? 'Progressing';
  const parts = [st.message ? `${phase} - ${st.message}` : phase];
  const steps = ro.spec.strategy.canary?.steps;
  if (steps?.length && st.stableRS !== st.currentPodHash)
    parts.push(`step ${st.currentStepIndex ?? 0}/${steps.length}`);
  const weight = st.canary?.weights?.canary.weight;
  if (weight !== undefined && st.stableRS !== st.currentPodHash) parts.push(`canary weight ${weight}`);
  parts.push(`${st.availableReplicas ?? 0}/${ro.spec.replicas ?? 1} available, ${st.updatedReplicas ?? 0} updated`);
  return parts.join(', ');
}

function parseDuration(s: string | undefined): number {
  if (!s) return 0;
  const m = /^(\d+)(ms|s|m|h)?$/.exec(s);
  if (!m) throw new Error(`invalid --timeout "${s}" (e.g. 90s, 5m)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
}

function common(cmd: Command): Command {
  return cmd
    .option('-n, --namespace <ns>', 'namespace of the Rollout', 'default')
    .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, else DATA/kubeconfig.yaml)');
}

export function registerRolloutCommands(program: Command): void {
  const rollout = program
    .command('rollout')
    .description('Promote, abort, retry and follow Rollouts (docs/rollouts.md)');
  common(rollout.command('promote <name>'))
    .description('Promote a Rollout paused at a canary step or before its blue/green switch')
    .option('--full', 'skip the remaining steps, pauses and checks')
    .action(async (name: string, flags: RolloutFlags) => {
      const { client, rollouts: ros } = await rollouts(flags);
      try {
        const ro = await ros.get(name);
        const p = promotePatches(ro, !!flags.full);
        if (p.status) await ros.patch(name, 'merge', p.status, { subresource: 'status' });
        if (p.spec) await ros.patch(name, 'merge', p.spec);
        process.stdout.write(`rollout '${name}' ${flags.full ? 'fully promoted' : 'promoted'}\n`);
      } finally {
        await client.close();
      }
    });
  common(rollout.command('abort <name>'))
    .description('Abort a Rollout: traffic back to the stable version, the new one scaled down')
    .action(async (name: string, flags: RolloutFlags) => {
      const { client, rollouts: ros } = await rollouts(flags);
      try {
        await ros.patch(name, 'merge', { status: { abort: true } }, { subresource: 'status' });
        process.stdout.write(`rollout '${name}' aborted\n`);
      } finally {
        await client.close();
      }
    });
  common(rollout.command('retry <name>'))
    .description('Retry an aborted Rollout')
    .action(async (name: string, flags: RolloutFlags) => {
      const { client, rollouts: ros } = await rollouts(flags);
      try {
        await ros.patch(name, 'merge', { status: { abort: false } }, { subresource: 'status' });
        process.stdout.write(`rollout '${name}' restarted\n`);
      } finally {
        await client.close();
      }
    });
  common(rollout.command('status <name>'))
    .description("Show a Rollout's progress; --watch follows it until Healthy (exit 0) or Degraded (exit 1)")
    .option('-w, --watch', 'follow the Rollout until it is Healthy or Degraded')
    .option('-t, --timeout <duration>', 'with --watch: give up after this long (e.g. 5m; 0: never)', '0')
    .action(async (name: string, flags: RolloutFlags) => {
      const { client, rollouts: ros } = await rollouts(flags);
      try {
        const timeoutMs = parseDuration(flags.timeout);
        const deadline = timeoutMs ? Date.now() + timeoutMs : Infinity;
        let last = '';
        for (;;) {
          const ro = await ros.get(name);
          const line = statusLine(ro);
          if (line !== last) process.stdout.write(`${line}\n`);
          last = line;
          const phase = ro.status?.phase;
          const settled = phase === 'Healthy' || phase === 'Degraded';
          // A spec change the controller has not seen yet is not a settled state.
          const observed = ro.status?.observedGeneration === String(ro.metadata.generation);
          if (!flags.watch || (settled && observed)) {
            if (phase === 'Degraded') process.exitCode = 1;
            return;
          }
          if (Date.now() > deadline) {
            process.stderr.write('Rollout status watch exceeded timeout\n');
            process.exitCode = 1;
            return;
          }
          await new Promise((r) => setTimeout(r, 1000));
        }
      } finally {
        await client.close();
      }
    });
}
