// `k8ts controller-manager --kubeconfig F`: the controller manager alone, over HTTPS, against any
// API server — with leader election on kube-system/kube-controller-manager by default, so that
// several instances can run for HA (one acts, the others stand by and take over within the
// lease duration). Flags follow kube-controller-manager.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { Client } from '../client/client.js';
import { loadKubeconfig } from '../client/kubeconfig.js';
import { ControllerManager, DEFAULT_CONTROLLERS, type ControllerInit } from '../controllers/manager.js';
import { type LeaderElectFlags, leaseFromFlags, stopOnSignals } from './component.js';
import { keysFromPem, signLegacyToken } from '../apiserver/serviceaccount/index.js';
import { parsePoolCIDR } from '../controllers/servicelb/pool.js';

export interface ControllerManagerFlags extends LeaderElectFlags {
  kubeconfig?: string;
  context?: string;
  controllers: string;
  terminatedPodGcThreshold: string;
  rootCaFile?: string;
  serviceAccountPrivateKeyFile?: string;
  clusterCidr?: string;
  lbAddressPool?: string[];
  logLevel: string;
}

/** Upstream --controllers: '*' all, 'foo' enable, '-foo' disable. */
export function selectControllers(spec: string, all: Record<string, ControllerInit>): Record<string, ControllerInit> {
  const items = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const star = items.includes('*') || items.length === 0;
  const out: Record<string, ControllerInit> = {};
  for (const [name, init] of Object.entries(all)) {
    if (items.includes(`-${name}`)) continue;
    if (star || items.includes(name)) out[name] = init;
  }
  for (const i of items) {
    const n = i.replace(/^-/, '');
    if (n !== '*' && !all[n])
      throw new Error(`--controllers: unknown controller ${JSON.stringify(n)} (known: ${Object.keys(all).join(', ')})`);
  }
  return out;
}

export function runControllerManager(flags: ControllerManagerFlags): void {
  const logger = pino({ level: flags.logLevel, name: 'k8ts-controller-manager', base: {} }, pino.destination(2));
  const kubeconfig = flags.kubeconfig ?? process.env.KUBECONFIG;
  if (!kubeconfig) throw new Error('--kubeconfig (or KUBECONFIG) is required');
  const lease = leaseFromFlags(flags);
  const threshold = Number(flags.terminatedPodGcThreshold);
  if (!Number.isInteger(threshold) || threshold < 0)
    throw new Error(`--terminated-pod-gc-threshold: invalid value ${flags.terminatedPodGcThreshold}`);
  const rootCA = flags.rootCaFile
    ? readFileSync(flags.rootCaFile, 'utf8')
    : loadKubeconfig(kubeconfig, flags.context).ca;
  flags.lbAddressPool?.forEach(parsePoolCIDR); // a typo fails at start, not at the first Service
  const controllers = selectControllers(flags.controllers, DEFAULT_CONTROLLERS);
  const keys = flags.serviceAccountPrivateKeyFile
    ? keysFromPem(readFileSync(flags.serviceAccountPrivateKeyFile))
    : undefined;
  const client = Client.fromKubeconfig(kubeconfig, { fieldManager: 'kube-controller-manager', context: flags.context });
  const manager = new ControllerManager({
    client,
    logger,
    controllers,
    leaderElection: lease,
    options: {
      rootCA,
      terminatedPodGCThreshold: threshold,
      ...(keys ? { legacyServiceAccountToken: (sa, secret) => signLegacyToken(keys, sa, secret) } : {}),
      ...(flags.clusterCidr ? { clusterCIDR: flags.clusterCidr } : {}),
      ...(flags.lbAddressPool?.length ? { lbAddressPools: flags.lbAddressPool } : {}),
    },
  });
  manager.start();
  process.stdout.write(
    `k8ts controller-manager started: identity ${manager.identity} (leader election ${lease ? 'on' : 'off'})\n`,
  );

  stopOnSignals(logger, async () => {
    await manager.stop();
    await client.close().catch(() => undefined);
  });
}
