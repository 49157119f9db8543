// A whole k8ts cluster inside the calling process, for tests of operators and controllers (the
// role envtest plays for Go): the API server on SQLite in a directory of its own, HTTPS on a free
// loopback port, an admin kubeconfig, and (optionally) the controller manager, the scheduler and
// simulated nodes. Several clusters can run in one process; stop() removes everything.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';
import pino, { type Logger } from 'pino';
import { builtinResources } from '../api/builtin.js';
import { bootstrap } from '../apiserver/bootstrap.js';
import { issue, loadOrCreateCA } from '../apiserver/pki.js';
import { ApiServer } from '../apiserver/server.js';
import { Client } from '../client/client.js';
import { ControllerManager } from '../controllers/manager.js';
import { SchedulerRunner } from '../scheduler/runner.js';
import { DEFAULT_SIM_OPTIONS, type SimOptions } from '../sim/config.js';
import { NodeSimulator } from '../sim/simulator.js';
import { openBackend } from '../storage/open.js';
import { writeKubeconfig } from '../cli/kubeconfig.js';
import { Authorization } from '../apiserver/authz/index.js';
import { inProcessClient } from '../apiserver/inprocess.js';

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
  /** pino level of the components' logs (to stderr). Default 'silent'. */
  logLevel?: string;
  /** Service CIDR (ClusterIPs are allocated from it). Default 10.43.0.0/16. */
  serviceCIDR?: string;
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
  const backend = openBackend(undefined, join(dataDir, 'db'));
  await backend.start();
  const ca = await loadOrCreateCA(join(dataDir, 'tls'));
  const [serving, admin] = await Promise.all([
    issue(ca, { commonName: 'kube-apiserver', sans: ['127.0.0.1', 'localhost'], server: true }),
    issue(ca, { commonName: 'system:admin', organizations: ['system:masters'], client: true }),
  ]);
  const api = new ApiServer({
    bindAddress: '127.0.0.1',
    port: 0,
    tls: { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem },
    backend,
    cluster: {
      serviceCIDR: opts.serviceCIDR ?? '10.43.0.0/16',
      nodePortRange: [30000, 32767],
      clusterDomain: 'cluster.local',
    },
    resources: builtinResources(),
    logger,
  });
  // Authorized as `k8ts server` is (Node,RBAC; the admin kubeconfig is in system:masters).
  const authorization = new Authorization();
  api.authorization = authorization;
  await api.start();
  await authorization.install(api);
  await bootstrap(api, { port: api.port });
  const url = `https://127.0.0.1:${api.port}`;
  const kubeconfigPath = join(dataDir, 'kubeconfig.yaml');
  writeKubeconfig(kubeconfigPath, { server: url, caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem });

  const client = (fieldManager = 'k8ts-embedded') => inProcessClient(api, { fieldManager });
  const nodes = opts.nodes ?? 0;
  // One process, one cluster per component: no leader election (nothing else competes).
  const controllers =
    opts.controllers !== false
      ? new ControllerManager({
          client: client('kube-controller-manager'),
          logger,
          options: { clusterCIDR: '10.42.0.0/16', rootCA: ca.certPem },
          leaderElection: false,
        })
      : undefined;
  controllers?.start();
  const scheduler =
    (opts.scheduler ?? nodes > 0)
      ? new SchedulerRunner({ client: client('kube-scheduler'), logger, leaderElection: false })
      : undefined;
  scheduler?.start();
  const simulator =
    nodes > 0
      ? new NodeSimulator(
          inProcessClient(api, {
            fieldManager: 'kubelet',
            user: { name: 'system:node:sim', groups: ['system:nodes', 'system:masters'] },
          }),
          { ...DEFAULT_SIM_OPTIONS, ...opts.nodeOptions, nodes },
          logger,
        )
      : undefined;
  await simulator?.start();

  let stopped = false;
  return {
    url,
    kubeconfigPath,
    kubeconfig: readFileSync(kubeconfigPath, 'utf8'),
    dataDir,
    api,
    client,
    async kubeConfig() {
      const { KubeConfig } = await importClientNode();
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      return kc;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await simulator?.stop();
      await scheduler?.stop();
      await controllers?.stop();
      await api.stop();
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
