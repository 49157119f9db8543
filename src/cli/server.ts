// `k8ts server`: one process with the datastore, API server and control plane (and, on a real
// host, the node agent and ingress controller). Flags follow k3s; this file only turns them into
// ServerSettings, and server/assemble.ts builds the server the library's startCluster builds too.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { DEFAULT_SERVING_LIMITS } from '../apiserver/limits.js';
import { isEtcdEndpoint } from '../storage/open.js';
import { simOptionsFromFlags } from '../sim/config.js';
import { parseCount, parseDurationMs, syncConcurrencyFromFlags, type SyncConcurrencyFlags } from './component.js';
import type { ControllerOptions } from '../controllers/types.js';
import { parsePoolCIDR } from '../controllers/servicelb/pool.js';
import { clusterDNSFromFlags, flannelBackendFromFlag } from './agentoptions.js';
import { startLocalAgent } from './agent.js';
import { defaultDataDir } from './datadir.js';
import type { AgentFlags } from './agentflags.js';
import { startIngressFromFlags, type IngressFlags } from './ingressflags.js';
import { componentServiceAccount } from '../server/identities.js';
import { EncryptionConfig, loadOrCreateDefaultConfig } from '../apiserver/encryption/config.js';
import { assembleServer } from '../server/assemble.js';
import { writeKubeconfig } from '../server/kubeconfig.js';
import { advertiseAddress } from './advertise.js';
import { syncSharedServerFiles } from './bootstrapdata.js';
import { requireClusterBackend } from './clusterconfig.js';
import { parseToken } from '../apiserver/join.js';
import { moveSqliteIntoEtcd, serverDatastore, serverJoinSource, snapshotsFromFlags } from './managedetcd.js';
import type { Auditor } from '../apiserver/audit/index.js';
import type { AuthenticationFlags } from './authnflags.js';
import { anonymousAuthFromFlags, authenticationFromFlags, bool } from './authnoptions.js';

export interface ServerFlags extends AgentFlags, IngressFlags, AuthenticationFlags, SyncConcurrencyFlags {
  dataDir?: string;
  httpsListenPort: string;
  bindAddress: string;
  writeKubeconfig?: string;
  writeKubeconfigMode?: string;
  datastoreEndpoint?: string;
  datastoreCafile?: string;
  datastoreCertfile?: string;
  datastoreKeyfile?: string;
  etcdPrefix?: string;
  encryptionProviderConfig?: string;
  /** 'false' turns the default encryption of Secrets off (true when given bare). */
  secretsEncryption?: string | boolean;
  etcdCompactionInterval?: string;
  eventTtl?: string;
  serviceCidr: string;
  serviceNodePortRange: string;
  clusterDomain: string;
  requestTimeout: string;
  authorizationMode?: string;
  /** AdmissionConfiguration file (PodSecurity's PodSecurityConfiguration). */
  admissionControlConfigFile?: string;
  auditPolicyFile?: string;
  auditLogPath?: string;
  auditLogMaxage?: string;
  auditLogMaxbackup?: string;
  auditLogMaxsize?: string;
  maxRequestsInflight: string;
  maxMutatingRequestsInflight: string;
  enablePriorityAndFairness?: string | boolean;
  http2MaxStreamsPerConnection: string;
  tlsSan: string[];
  advertiseAddress?: string;
  agentToken?: string;
  logLevel: string;
  /** Run no controller manager in this process. */
  disableControllerManager?: boolean;
  /** Run no scheduler in this process. */
  disableScheduler?: boolean;
  /** --scheduler-thread: the scheduler on a worker thread (default true). */
  schedulerThread?: string | boolean;
  /** Range of pod IPs (node IPAM hands out /24s of it). */
  clusterCidr?: string;
  /** How pod traffic crosses between nodes, cluster-wide: vxlan (default), host-gw or none. */
  flannelBackend?: string;
  /** --lb-address-pool (repeatable): LoadBalancer addresses come from these CIDRs. */
  lbAddressPool?: string[];
  /** Simulated nodes run in this process (and the --sim-* flags that shape them). */
  simulatedNodes?: string;
  nodeCidrMaskSize?: string;
  nodeMonitorGracePeriod?: string;
  nodeMonitorPeriod?: string;
  nodeStartupGracePeriod?: string;
  /** Run no node agent in this process. */
  disableAgent?: boolean;
  /** Serve no web dashboard at /dashboard/. */
  disableDashboard?: boolean;
  /** Auto-deployed manifests not to deploy (k3s's --disable NAME). */
  disable?: string[];
  /** Run no HelmChart controller and no manifests deployer. */
  disableHelmController?: boolean;
  /** Join secret (or full K10 token) for agents; default: the stored one, else a new random one. */
  token?: string;
  /** Start a managed etcd cluster of this server (k3s's --cluster-init). */
  clusterInit?: boolean;
  /** Join the server at this URL (with --token): shared files from it, and an etcd member. */
  server?: string;
  /** Reset the managed etcd to a single-member cluster of this server, keeping its data, then exit. */
  clusterReset?: boolean;
  /** With --cluster-reset: restore this snapshot file first. */
  clusterResetRestorePath?: string;
  etcdClientPort?: string;
  etcdPeerPort?: string;
  etcdSnapshotScheduleCron?: string;
  etcdSnapshotRetention?: string;
  etcdSnapshotDir?: string;
  etcdDisableSnapshots?: boolean;
  [simFlag: `sim${string}`]: unknown;
}

/** Settings of the controllers from the server's flags (upstream kube-controller-manager names). */
export function controllerOptionsFromFlags(flags: Partial<ServerFlags>): ControllerOptions {
  const o: ControllerOptions = { clusterCIDR: flags.clusterCidr ?? '10.42.0.0/16', ...syncConcurrencyFromFlags(flags) };
  if (flags.lbAddressPool?.length) {
    flags.lbAddressPool.forEach(parsePoolCIDR); // a typo fails at start, not at the first Service
    o.lbAddressPools = flags.lbAddressPool;
  }
  if (flags.nodeCidrMaskSize !== undefined) o.nodeCIDRMaskSize = Number(flags.nodeCidrMaskSize);
  if (flags.nodeMonitorGracePeriod !== undefined)
    o.nodeMonitorGracePeriodMs = parseDurationMs(flags.nodeMonitorGracePeriod, '--node-monitor-grace-period');
  if (flags.nodeMonitorPeriod !== undefined)
    o.nodeMonitorPeriodMs = parseDurationMs(flags.nodeMonitorPeriod, '--node-monitor-period');
  if (flags.nodeStartupGracePeriod !== undefined)
    o.nodeStartupGracePeriodMs = parseDurationMs(flags.nodeStartupGracePeriod, '--node-startup-grace-period');
  return o;
}

function parsePortRange(s: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(s);
  if (!m || +m[1] > +m[2] || +m[2] > 65535)
    throw new Error(`--service-node-port-range: invalid range ${JSON.stringify(s)} (want e.g. 30000-32767)`);
  return [+m[1], +m[2]];
}

/** The audit log, when both a policy and a log path are given (upstream records nothing without a policy). */
async function auditFromFlags(flags: ServerFlags, logger: pino.Logger): Promise<Auditor | undefined> {
  if (!flags.auditLogPath) return undefined;
  if (!flags.auditPolicyFile) {
    logger.info('no audit policy file (--audit-policy-file): no audit events are recorded');
    return undefined;
  }
  const { Auditor, loadPolicy } = await import('../apiserver/audit/index.js');
  let policy;
  try {
    policy = loadPolicy(flags.auditPolicyFile);
  } catch (err) {
    throw new Error(`--audit-policy-file ${flags.auditPolicyFile}: ${(err as Error).message}`, { cause: err });
  }
  return Auditor.open(policy, flags.auditLogPath, {
    maxAgeDays: parseCount(flags.auditLogMaxage ?? '0', '--audit-log-maxage'),
    maxBackups: parseCount(flags.auditLogMaxbackup ?? '0', '--audit-log-maxbackup'),
    maxSizeMB: parseCount(flags.auditLogMaxsize ?? '0', '--audit-log-maxsize'),
  });
}

/** --encryption-provider-config, else k3s's default (a generated aescbc key for Secrets) unless turned off. */
function encryptionFromFlags(flags: ServerFlags, dataDir: string): EncryptionConfig | undefined {
  if (flags.encryptionProviderConfig) {
    try {
      return EncryptionConfig.load(flags.encryptionProviderConfig);
    } catch (err) {
      throw new Error(`--encryption-provider-config ${flags.encryptionProviderConfig}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  const on =
    flags.secretsEncryption === undefined || flags.secretsEncryption === true || flags.secretsEncryption === 'true';
  if (!on && flags.secretsEncryption !== 'false')
    throw new Error(`--secrets-encryption: want true or false, got ${String(flags.secretsEncryption)}`);
  return on ? loadOrCreateDefaultConfig(dataDir).config : undefined;
}

export async function runServer(flags: ServerFlags): Promise<void> {
  const logger = pino({ level: flags.logLevel, name: 'k8ts-server', base: {} }, pino.destination(2));
  const dataDir = resolve(flags.dataDir ?? defaultDataDir());
  const port = Number(flags.httpsListenPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--https-listen-port: invalid port ${flags.httpsListenPort}`);
  const nodePortRange = parsePortRange(flags.serviceNodePortRange);
  const simCount = Number(flags.simulatedNodes ?? 0);
  if (!Number.isInteger(simCount) || simCount < 0)
    throw new Error(`--simulated-nodes: invalid count ${flags.simulatedNodes}`);
  const flannelBackend = flannelBackendFromFlag(flags.flannelBackend);

  // This server's managed etcd member (--cluster-init, --server), else --datastore-endpoint.
  const store = await serverDatastore(flags, dataDir, logger);
  if (flags.server && flags.token)
    await requireClusterBackend(
      flags.server,
      readFileSync(join(dataDir, 'server', 'tls', 'ca.crt'), 'utf8'),
      parseToken(flags.token).secret,
      flannelBackend,
      logger,
    );
  // On etcd the shared files (CA, keys, encryption configuration) are the cluster's, kept in it.
  const encryption = await syncSharedServerFiles(flags, store, dataDir, logger, () =>
    encryptionFromFlags(flags, dataDir),
  );
  const server = await assembleServer({
    dataDir,
    logger,
    bindAddress: flags.bindAddress,
    port,
    datastoreEndpoint: store.endpoint,
    prepareDatastore: (backend) => moveSqliteIntoEtcd(store, backend, dataDir, logger),
    datastore: {
      caFile: store.caFile,
      certFile: store.certFile,
      keyFile: store.keyFile,
      etcdPrefix: flags.etcdPrefix,
      eventTtlSeconds: Math.max(1, Math.round(parseDurationMs(flags.eventTtl ?? '1h', '--event-ttl') / 1000)),
    },
    compactionIntervalMs: isEtcdEndpoint(store.endpoint)
      ? parseDurationMs(flags.etcdCompactionInterval ?? '5m', '--etcd-compaction-interval')
      : undefined,
    encryption,
    cluster: { serviceCIDR: flags.serviceCidr, nodePortRange, clusterDomain: flags.clusterDomain, flannelBackend },
    limits: {
      requestTimeoutMs: parseDurationMs(flags.requestTimeout, '--request-timeout'),
      maxRequestsInflight: parseCount(flags.maxRequestsInflight, '--max-requests-inflight'),
      maxMutatingRequestsInflight: parseCount(flags.maxMutatingRequestsInflight, '--max-mutating-requests-inflight'),
      enablePriorityAndFairness: bool(flags.enablePriorityAndFairness, '--enable-priority-and-fairness', true),
      http2MaxStreamsPerConnection:
        parseCount(flags.http2MaxStreamsPerConnection, '--http2-max-streams-per-connection') ||
        DEFAULT_SERVING_LIMITS.http2MaxStreamsPerConnection,
    },
    authorizationMode: flags.authorizationMode,
    audit: await auditFromFlags(flags, logger),
    anonymousAuth: anonymousAuthFromFlags(flags),
    authentication: authenticationFromFlags(flags),
    admissionControlConfigFile: flags.admissionControlConfigFile,
    tlsSans: flags.tlsSan,
    // As k3s: --advertise-address, else the node's IP, else the bind address (never loopback:
    // Endpoints may not hold it, so a loopback one gives way to the host's address).
    advertiseAddress: flags.advertiseAddress ?? advertiseAddress(flags.nodeIp ?? flags.bindAddress),
    joinToken: flags.token,
    agentToken: flags.agentToken,
    joinServers: serverJoinSource(store, dataDir),
    controllers: flags.disableControllerManager ? false : controllerOptionsFromFlags(flags),
    scheduler: !flags.disableScheduler,
    schedulerThread: bool(flags.schedulerThread, '--scheduler-thread', true),
    // kube-system/kube-dns (at --cluster-dns) with the node agents' DNS listeners as endpoints.
    clusterDNS: clusterDNSFromFlags(flags)[0],
    simulator: simCount > 0 ? simOptionsFromFlags(simCount, flags) : undefined,
    dashboard: !flags.disableDashboard,
    helm: flags.disableHelmController ? undefined : { disable: flags.disable },
  });
  const { api, ca } = server;
  const snapshots = snapshotsFromFlags(flags, store, dataDir, logger);
  snapshots?.start();
  const agent = flags.disableAgent
    ? undefined
    : await startLocalAgent(api, ca, { ...flags, flannelBackend }, dataDir, logger);
  // The built-in ingress controller (docs/ingress.md): ports 80/443 unless --disable-ingress.
  const ingress = await startIngressFromFlags(
    flags,
    'server',
    server.componentClient('k8ts-ingress', componentServiceAccount('k8ts-ingress')),
    logger,
    (flags.nodeName ?? hostname()).toLowerCase(),
    dataDir,
  );

  const kubeconfigPath = resolve(flags.writeKubeconfig ?? join(dataDir, 'kubeconfig.yaml'));
  writeKubeconfig(
    kubeconfigPath,
    server.adminKubeconfig,
    flags.writeKubeconfigMode ? parseInt(flags.writeKubeconfigMode, 8) : 0o600,
  );

  process.stdout.write(`k8ts server: node join token in ${server.joinTokenPath}\n`);
  process.stdout.write(`k8ts server ready: ${server.url} (data ${dataDir}, kubeconfig ${kubeconfigPath})\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    snapshots?.stop();
    await ingress?.stop();
    await agent?.stop();
    await server.stop();
    await store.managed?.etcd.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
