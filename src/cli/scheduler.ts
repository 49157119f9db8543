// `k8ts scheduler --kubeconfig F`: the scheduler alone, over HTTPS, against any API server — with
// leader election on kube-system/kube-scheduler by default, so a second instance stands by and
// takes over within the lease duration. Flags follow kube-scheduler.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Client } from '../client/client.js';
import { SchedulerRunner } from '../scheduler/runner.js';
import { parseBool, parseDurationMs } from './controllermanager.js';

export interface SchedulerFlags {
  kubeconfig?: string;
  context?: string;
  schedulerName: string;
  leaderElect: string | boolean;
  leaderElectLeaseDuration: string;
  leaderElectRenewDeadline: string;
  leaderElectRetryPeriod: string;
  leaderElectResourceName: string;
  leaderElectResourceNamespace: string;
  percentageOfNodesToScore: string;
  logLevel: string;
}

export async function runScheduler(flags: SchedulerFlags): Promise<void> {
  const logger = pino({ level: flags.logLevel, base: { component: 'k8ts-scheduler' } }, pino.destination(2));
  const kubeconfig = flags.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('--kubeconfig (or KUBECONFIG) is required');
  const leaderElect = parseBool(flags.leaderElect, '--leader-elect');
  const pct = Number(flags.percentageOfNodesToScore);
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) throw new Error(`--percentage-of-nodes-to-score: invalid value ${flags.percentageOfNodesToScore}`);
  const client = Client.fromKubeconfig(kubeconfig, { fieldManager: 'kube-scheduler', context: flags.context });
  const runner = new SchedulerRunner({
    client,
    logger,
    schedulerName: flags.schedulerName,
    percentageOfNodesToScore: pct,
    leaderElection: leaderElect
      ? {
          identity: `${hostname()}_${randomUUID()}`,
          name: flags.leaderElectResourceName,
          namespace: flags.leaderElectResourceNamespace,
          leaseDurationMs: parseDurationMs(flags.leaderElectLeaseDuration, '--leader-elect-lease-duration'),
          renewDeadlineMs: parseDurationMs(flags.leaderElectRenewDeadline, '--leader-elect-renew-deadline'),
          retryPeriodMs: parseDurationMs(flags.leaderElectRetryPeriod, '--leader-elect-retry-period'),
        }
      : false,
  });
  runner.start();
  process.stdout.write(`k8ts scheduler started: identity ${runner.identity} (leader election ${leaderElect ? 'on' : 'off'})\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await runner.stop().catch((err) => logger.error({ err }, 'stop failed'));
    await client.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
