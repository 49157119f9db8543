// What the standalone components (`k8ts controller-manager`, `k8ts scheduler`) share: upstream's
// flag formats, leader-election flags, and a clean stop on SIGTERM/SIGINT.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { LeaseOptions } from '../client/leaderelection.js';
import { parseGoDuration } from '../machinery/duration.js';
import type { Command } from 'commander';
import type { ControllerOptions } from '../controllers/types.js';

/** Go-style durations as the upstream flags take them: 15s, 1m30s, 500ms (a bare number: seconds). */
export function parseDurationMs(s: string, flag: string): number {
  const t = String(s).trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t) * 1000;
  try {
    const ms = parseGoDuration(t);
    if (ms >= 0) return ms;
  } catch {
    // reported below
  }
  throw new Error(`${flag}: invalid duration ${JSON.stringify(s)} (want e.g. 40s, 500ms, 1m)`);
}

/** A non-negative whole number flag. */
export function parseCount(s: string, flag: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(String(s).trim()) || !Number.isSafeInteger(n))
    throw new Error(`${flag}: want a non-negative whole number, got ${JSON.stringify(s)}`);
  return n;
}

/** kube-controller-manager's worker-pool flags, taken alike by `k8ts server` and `k8ts controller-manager`. */
export interface SyncConcurrencyFlags {
  concurrentReplicasetSyncs?: string;
  concurrentDeploymentSyncs?: string;
}

export function addSyncConcurrencyOptions(cmd: Command): Command {
  return cmd
    .option('--concurrent-replicaset-syncs <n>', 'ReplicaSets the replicaset controller syncs at once', '5')
    .option('--concurrent-deployment-syncs <n>', 'Deployments the deployment controller syncs at once', '5');
}

export function syncConcurrencyFromFlags(flags: SyncConcurrencyFlags): ControllerOptions {
  const workers = (v: string | undefined, flag: string) => {
    if (v === undefined) return undefined;
    const n = parseCount(v, flag);
    if (n < 1) throw new Error(`${flag}: want at least 1, got ${JSON.stringify(v)}`);
    return n;
  };
  const o: ControllerOptions = {};
  const rs = workers(flags.concurrentReplicasetSyncs, '--concurrent-replicaset-syncs');
  const deploy = workers(flags.concurrentDeploymentSyncs, '--concurrent-deployment-syncs');
  if (rs !== undefined) o.concurrentReplicaSetSyncs = rs;
  if (deploy !== undefined) o.concurrentDeploymentSyncs = deploy;
  return o;
}

export function parseBool(v: string | boolean, flag: string): boolean {
  if (typeof v === 'boolean') return v;
  if (/^(true|1|t)$/i.test(v)) return true;
  if (/^(false|0|f)$/i.test(v)) return false;
  throw new Error(`${flag}: invalid boolean ${JSON.stringify(v)}`);
}

/** The --leader-elect* flags, as kube-controller-manager and kube-scheduler spell them. */
export interface LeaderElectFlags {
  leaderElect: string | boolean;
  leaderElectLeaseDuration: string;
  leaderElectRenewDeadline: string;
  leaderElectRetryPeriod: string;
  leaderElectResourceName: string;
  leaderElectResourceNamespace: string;
}

/** Lease options from the flags, or false when --leader-elect=false. */
export function leaseFromFlags(flags: LeaderElectFlags): LeaseOptions | false {
  if (!parseBool(flags.leaderElect, '--leader-elect')) return false;
  return {
    identity: `${hostname()}_${randomUUID()}`,
    name: flags.leaderElectResourceName,
    namespace: flags.leaderElectResourceNamespace,
    leaseDurationMs: parseDurationMs(flags.leaderElectLeaseDuration, '--leader-elect-lease-duration'),
    renewDeadlineMs: parseDurationMs(flags.leaderElectRenewDeadline, '--leader-elect-renew-deadline'),
    retryPeriodMs: parseDurationMs(flags.leaderElectRetryPeriod, '--leader-elect-retry-period'),
  };
}

/** On SIGTERM or SIGINT: run `stop` once (giving leases back), then exit 0. */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await stop().catch((err) => logger.error({ err }, 'stop failed'));
    process.exit(0);
  };
  process.on('SIGTERM', () => void onSignal('SIGTERM'));
  process.on('SIGINT', () => void onSignal('SIGINT'));
}
