// A whole k8ts cluster inside the calling process, for tests of operators and controllers (the
// role envtest plays for Go): the API server on SQLite in a directory of its own, HTTPS on a free
// loopback port, an admin kubeconfig, and (optionally) the controller manager, the scheduler and
// simulated nodes. Several clusters can run in one process; stop() removes everything.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import type { ApiServer } from '../apiserver/server.js';
import { loadOrCreateDefaultConfig } from '../apiserver/encryption/config.js';
import type { Client } from '../client/client.js';
import { DEFAULT_SIM_OPTIONS, type SimOptions } from '../sim/config.js';
import { assembleServer } from '../server/assemble.js';
import { renderKubeconfig } from '../server/kubeconfig.js';

export interface ClusterOptions {
  /** Run the controller manager (Deployments, ReplicaSets, garbage collection, namespaces...). Default true. */
  controllers?: boolean;
  /** Run the scheduler. Default: true when there are nodes. */
  scheduler?: boolean;
  /** Simulated nodes (kwok-like: pods on them become Running without containers). Default 0. */
  nodes?: number;
  /** Shape of the simulated nodes (capacity, labels, taints, timings). */
  nodeOptions?: Partial<Omit<SimOptions, 'nodes'>>;
  /** Where the datastore and certificates go. Default: a new temporary directory, removed by stop(). */
  dataDir?: string;
  /** Put the temporary directory on /dev/shm where the host has it (nothing touches the disk). */
  inMemory?: boolean;
  /**
   * fsync every commit of the datastore, as `k8ts server` does. Default: only for a `dataDir` you
   * give; a temporary one, removed by stop(), is not synced (as envtest runs etcd with
   * --unsafe-no-fsync), which a crash of the machine, not of the process, could lose.
   */
  fsync?: boolean;
  /** pino level of the components' logs (to stderr). Default 'silent'. */
  logLevel?: string;
  /** Service CIDR (ClusterIPs are allocated from it). Default 10.43.0.0/16. */
  serviceCIDR?: string;
  /**
   * Install the snapshot.storage.k8s.io CRDs and run the snapshot controller (an add-on upstream,
   * as in `k8ts server`). Default false: three CRDs to compile cost a test process's start.
   */
  volumeSnapshots?: boolean;
  /** Install Argo Rollouts' Rollout CRD and run its controller (docs/rollouts.md). Default false, as volumeSnapshots. */
  rollouts?: boolean;
}

export interface Cluster {
  /** The API server's HTTPS address. */
  url: string;
  /** Path of an admin (system:masters) kubeconfig for `url`. */
  kubeconfigPath: string;
  /** The same kubeconfig as YAML text. */
  kubeconfig: string;
  dataDir: string;
  /** The API server itself (for advanced uses; most tests need only the kubeconfig). */
  api: ApiServer;
  /** A k8ts client calling the API server in process, acting as `fieldManager`. */
  client(fieldManager?: string): Client;
  /**
   * A ready @kubernetes/client-node KubeConfig for this cluster. That package is a peer of k8ts:
   * install it in the project that uses this.
   */
  kubeConfig(): Promise<KubeConfig>;
  /** Stops every component and removes a temporary data directory. */
  stop(): Promise<void>;
}

function scratchDir(inMemory: boolean | undefined): string {
  const base = inMemory && existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return mkdtempSync(join(base, 'k8ts-cluster-'));
}

/**
 * @kubernetes/client-node as the calling project has it installed (so the KubeConfig is of the
 * caller's copy of the package), else as k8ts resolves it.
 */
async function importClientNode(): Promise<typeof import('@kubernetes/client-node')> {
  let path: string;
  try {
    path = pathToFileURL(createRequire(join(process.cwd(), 'package.json')).resolve('@kubernetes/client-node')).href;
  } catch {
    path = '@kubernetes/client-node';
  }
  return import(path);
}

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const ownsDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? scratchDir(opts.inMemory);
  const logger: Logger = pino({ level: opts.logLevel ?? 'silent', base: {} }, pino.destination(2));
  const nodes = opts.nodes ?? 0;
  const controllers = opts.controllers !== false;
  // `k8ts server`'s own assembly, with a test process's defaults: a free loopback port, SQLite in
  // the data dir, no leader election (one process, one cluster per component).
  const server = await assembleServer({
    dataDir,
    logger,
    bindAddress: '127.0.0.1',
    port: 0,
    datastore: { unsafeNoFsync: !(opts.fsync ?? !ownsDir) },
    // As k3s: Secrets encrypted at rest with a generated key.
    encryption: loadOrCreateDefaultConfig(dataDir).config,
    cluster: {
      serviceCIDR: opts.serviceCIDR ?? '10.43.0.0/16',
      nodePortRange: [30000, 32767],
      clusterDomain: 'cluster.local',
    },
    // Without the controller manager nothing creates ServiceAccounts, so pods may not require one.
    requireServiceAccount: controllers,
    controllers: controllers && { clusterCIDR: '10.42.0.0/16' },
    disabledControllers: [
      ...(opts.volumeSnapshots ? [] : ['snapshot-controller']),
      ...(opts.rollouts ? [] : ['rollouts']),
    ],
    scheduler: opts.scheduler ?? nodes > 0,
    leaderElection: false,
    simulator: nodes > 0 ? { ...DEFAULT_SIM_OPTIONS, ...opts.nodeOptions, nodes } : undefined,
  });
  const kubeconfig = renderKubeconfig(server.adminKubeconfig);
  const kubeconfigPath = join(dataDir, 'kubeconfig.yaml');
  writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });

  let stopped = false;
  return {
    url: server.url,
    kubeconfigPath,
    kubeconfig,
    dataDir,
    api: server.api,
    client: (fieldManager = 'k8ts-embedded') => server.client({ fieldManager }),
    async kubeConfig() {
      const { KubeConfig } = await importClientNode();
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfig);
      return kc;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
