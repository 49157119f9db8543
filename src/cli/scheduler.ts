// `k8ts scheduler --kubeconfig F`: the scheduler alone, over HTTPS, against any API server — with
// leader election on kube-system/kube-scheduler by default, so a second instance stands by and
// takes over within the lease duration. Flags follow kube-scheduler.
import pino from 'pino';
import { Client } from '../client/client.js';
import { SchedulerRunner } from '../scheduler/runner.js';
import { type LeaderElectFlags, leaseFromFlags, stopOnSignals } from './component.js';

export interface SchedulerFlags extends LeaderElectFlags {
  kubeconfig?: string;
  context?: string;
  schedulerName: string;
  percentageOfNodesToScore: string;
  logLevel: string;
}

export function runScheduler(flags: SchedulerFlags): void {
  const logger = pino({ level: flags.logLevel, name: 'k8ts-scheduler', base: {} }, pino.destination(2));
  const kubeconfig = flags.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('--kubeconfig (or KUBECONFIG) is required');
  const lease = leaseFromFlags(flags);
  const pct = Number(flags.percentageOfNodesToScore);
  if (!Number.isFinite(pct) || pct < 0 || pct > 100)
    throw new Error(`--percentage-of-nodes-to-score: invalid value ${flags.percentageOfNodesToScore}`);
  const client = Client.fromKubeconfig(kubeconfig, { fieldManager: 'kube-scheduler', context: flags.context });
  const runner = new SchedulerRunner({
    client,
    logger,
    schedulerName: flags.schedulerName,
    percentageOfNodesToScore: pct,
    leaderElection: lease,
  });
  runner.start();
  process.stdout.write(
    `k8ts scheduler started: identity ${runner.identity} (leader election ${lease ? 'on' : 'off'})\n`,
  );

  stopOnSignals(logger, async () => {
    await runner.stop();
    await client.close().catch(() => undefined);
  });
}
