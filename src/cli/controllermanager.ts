// `k8ts controller-manager --kubeconfig F`: the controller manager alone, over HTTPS, against any
// API server — with leader election on kube-system/kube-controller-manager by default, so that
// several instances can run for HA (one acts, the others stand by and take over within the
// lease duration). Flags follow kube-controller-manager.
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { Client } from '../client/client.js';
import { type ClientConfig, loadKubeconfig } from '../client/kubeconfig.js';
import { ServiceAccountClients } from '../client/saclients.js';
import { CONTROLLER_SERVICE_ACCOUNTS } from '../server/identities.js';
import type { Logger } from 'pino';
import { ControllerManager, DEFAULT_CONTROLLERS, type ControllerInit } from '../controllers/manager.js';
import {
  type LeaderElectFlags,
  type SyncConcurrencyFlags,
  leaseFromFlags,
  stopOnSignals,
  syncConcurrencyFromFlags,
} from './component.js';
import { keysFromPem, signLegacyToken } from '../apiserver/serviceaccount/index.js';
import { parsePoolCIDR } from '../controllers/servicelb/pool.js';

export interface ControllerManagerFlags extends LeaderElectFlags, SyncConcurrencyFlags {
  kubeconfig?: string;
  context?: string;
  controllers: string;
  terminatedPodGcThreshold: string;
  rootCaFile?: string;
  serviceAccountPrivateKeyFile?: string;
  clusterCidr?: string;
  lbAddressPool?: string[];
  /** Each controller acts as its own service account, with a token from a TokenRequest. */
  useServiceAccountCredentials?: boolean;
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

/**
 * --use-service-account-credentials: the client of every selected controller that has an account
 * of its own (server/identities.ts, upstream's names), holding its token; the others use `root`.
 */
export async function serviceAccountClients(
  root: Client,
  config: ClientConfig,
  controllers: string[],
  log: Logger,
): Promise<{ clients: Map<string, Client>; accounts: ServiceAccountClients }> {
  const accounts = new ServiceAccountClients({ root, config, fieldManager: 'kube-controller-manager', log });
  const clients = new Map<string, Client>();
  for (const name of controllers) {
    const account = CONTROLLER_SERVICE_ACCOUNTS[name];
    if (account) clients.set(name, await accounts.clientFor(account));
  }
  return { clients, accounts };
}

export async function runControllerManager(flags: ControllerManagerFlags): Promise<void> {
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
  const credentials = flags.useServiceAccountCredentials
    ? await serviceAccountClients(client, loadKubeconfig(kubeconfig, flags.context), Object.keys(controllers), logger)
    : undefined;
  const manager = new ControllerManager({
    client,
    ...(credentials ? { clientFor: (name: string) => credentials.clients.get(name) ?? client } : {}),
    logger,
    controllers,
    leaderElection: lease,
    options: {
      rootCA,
      terminatedPodGCThreshold: threshold,
      ...syncConcurrencyFromFlags(flags),
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
    await credentials?.accounts.stop();
    await client.close().catch(() => undefined);
  });
}
