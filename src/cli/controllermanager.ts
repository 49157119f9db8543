// `k8ts controller-manager --kubeconfig F`: the controller manager alone, over HTTPS, against any
// API server — with leader election on kube-system/kube-controller-manager by default, so that
// several instances can run for HA (one acts, the others stand by and take over within the
// lease duration). Flags follow kube-controller-manager.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { Client } from '../client/client.js';
import { loadKubeconfig } from '../client/kubeconfig.js';
import { ControllerManager, DEFAULT_CONTROLLERS, type ControllerInit } from '../controllers/manager.js';

export interface ControllerManagerFlags {
  kubeconfig?: string;
  context?: string;
  leaderElect: string | boolean;
  leaderElectLeaseDuration: string;
  leaderElectRenewDeadline: string;
  leaderElectRetryPeriod: string;
  leaderElectResourceName: string;
  leaderElectResourceNamespace: string;
  controllers: string;
  terminatedPodGcThreshold: string;
  rootCaFile?: string;
  clusterCidr?: string;
  logLevel: string;
}

/** Go-style durations as the upstream flags take them: 15s, 1m30s, 500ms (a bare number: seconds). */
export function parseDurationMs(s: string, flag: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms']!;
    consumed = re.lastIndex;
  }
  if (!s || consumed !== s.length) throw new Error(`${flag}: invalid duration ${JSON.stringify(s)}`);
  return total;
}

export function parseBool(v: string | boolean, flag: string): boolean {
  if (typeof v === 'boolean') return v;
  if (/^(true|1|t)$/i.test(v)) return true;
  if (/^(false|0|f)$/i.test(v)) return false;
  throw new Error(`${flag}: invalid boolean ${JSON.stringify(v)}`);
}

/** Upstream --controllers: '*' all, 'foo' enable, '-foo' disable. */
export function selectControllers(spec: string, all: Record<string, ControllerInit>): Record<string, ControllerInit> {
  const items = spec.split(',').map((s) => s.trim()).filter(Boolean);
  const star = items.includes('*') || items.length === 0;
  const out: Record<string, ControllerInit> = {};
  for (const [name, init] of Object.entries(all)) {
    if (items.includes(`-${name}`)) continue;
    if (star || items.includes(name)) out[name] = init;
  }
  for (const i of items) {
    const n = i.replace(/^-/, '');
    if (n !== '*' && !all[n]) throw new Error(`--controllers: unknown controller ${JSON.stringify(n)} (known: ${Object.keys(all).join(', ')})`);
  }
  return out;
}

export async function runControllerManager(flags: ControllerManagerFlags): Promise<void> {
  const logger = pino({ level: flags.logLevel, base: { component: 'k8ts-controller-manager' } }, pino.destination(2));
  const kubeconfig = flags.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('--kubeconfig (or KUBECONFIG) is required');
  const leaderElect = parseBool(flags.leaderElect, '--leader-elect');
  const threshold = Number(flags.terminatedPodGcThreshold);
  if (!Number.isInteger(threshold) || threshold < 0) throw new Error(`--terminated-pod-gc-threshold: invalid value ${flags.terminatedPodGcThreshold}`);
  const rootCA = flags.rootCaFile ? readFileSync(flags.rootCaFile, 'utf8') : loadKubeconfig(kubeconfig, flags.context).ca;
  const controllers = selectControllers(flags.controllers, DEFAULT_CONTROLLERS);
  const identity = `${hostname()}_${randomUUID()}`;
  const client = Client.fromKubeconfig(kubeconfig, { fieldManager: 'kube-controller-manager', context: flags.context });
  const manager = new ControllerManager({
    client,
    logger,
    controllers,
    leaderElection: leaderElect
      ? {
          identity,
          name: flags.leaderElectResourceName,
          namespace: flags.leaderElectResourceNamespace,
          leaseDurationMs: parseDurationMs(flags.leaderElectLeaseDuration, '--leader-elect-lease-duration'),
          renewDeadlineMs: parseDurationMs(flags.leaderElectRenewDeadline, '--leader-elect-renew-deadline'),
          retryPeriodMs: parseDurationMs(flags.leaderElectRetryPeriod, '--leader-elect-retry-period'),
        }
      : false,
    options: { rootCA, terminatedPodGCThreshold: threshold, ...(flags.clusterCidr ? { clusterCIDR: flags.clusterCidr } : {}) },
  });
  manager.start();
  process.stdout.write(`k8ts controller-manager started: identity ${manager.identity} (leader election ${leaderElect ? 'on' : 'off'})\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await manager.stop().catch((err) => logger.error({ err }, 'stop failed'));
    await client.close().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
