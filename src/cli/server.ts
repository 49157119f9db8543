// `k8ts server`: one process with the datastore and API server (controllers, scheduler and the
// node agent join it as they land). Flags follow k3s.
import { hostname, networkInterfaces } from 'node:os';
import { join, resolve } from 'node:path';
import { mkdirSync } from 'node:fs';
import pino from 'pino';
import { builtinResources } from '../api/builtin.js';
import { ApiServer } from '../apiserver/server.js';
import { DEFAULT_SERVING_LIMITS } from '../apiserver/limits.js';
import { loadOrCreateCA, loadOrIssue } from '../apiserver/pki.js';
import { bootstrap } from '../apiserver/bootstrap.js';
import { isEtcdEndpoint, openBackend } from '../storage/open.js';
import { Compactor } from '../storage/compactor.js';
import { writeKubeconfig } from './kubeconfig.js';
import { ControllerManager } from '../controllers/manager.js';
import { SchedulerRunner } from '../scheduler/runner.js';
import { NodeSimulator } from '../sim/simulator.js';
import { simOptionsFromFlags } from '../sim/config.js';
import { parseCount, parseDurationMs } from './component.js';
import type { ControllerOptions } from '../controllers/types.js';
import { parsePoolCIDR } from '../controllers/servicelb/pool.js';
import { KubeDNSController } from '../dns/kubedns.js';
import { clusterDNSFromFlags } from './agentflags.js';
import { startLocalAgent } from './agent.js';
import { defaultDataDir } from './datadir.js';
import type { AgentFlags } from './agentflags.js';
import { LocalPathProvisioner } from '../agent/provisioner/localpath.js';
import { JoinService, loadOrCreateServerToken } from '../apiserver/join.js';
import { installServiceAccountTokens, loadOrCreateServiceAccountKeys } from '../apiserver/serviceaccount/index.js';
import { inProcessClient } from '../apiserver/inprocess.js';
import { startIngressFromFlags, type IngressFlags } from './ingressflags.js';
import { Authorization } from '../apiserver/authz/index.js';
import { PodSecurity, loadPodSecurityConfiguration } from '../apiserver/admission/podsecurity/index.js';
import { EncryptionConfig, loadOrCreateDefaultConfig } from '../apiserver/encryption/config.js';
import { loadOrCreateFrontProxy } from '../apiserver/aggregator/frontproxy.js';

export interface ServerFlags extends AgentFlags, IngressFlags {
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
  maxRequestsInflight: string;
  maxMutatingRequestsInflight: string;
  http2MaxStreamsPerConnection: string;
  tlsSan: string[];
  logLevel: string;
  /** Run no controller manager in this process. */
  disableControllerManager?: boolean;
  /** Run no scheduler in this process. */
  disableScheduler?: boolean;
  /** Range of pod IPs (node IPAM hands out /24s of it). */
  clusterCidr?: string;
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
  /** Join secret (or full K10 token) for agents; default: the stored one, else a new random one. */
  token?: string;
  [simFlag: `sim${string}`]: unknown;
}

/** Settings of the controllers from the server's flags (upstream kube-controller-manager names). */
export function controllerOptionsFromFlags(flags: Partial<ServerFlags>): ControllerOptions {
  const o: ControllerOptions = { clusterCIDR: flags.clusterCidr ?? '10.42.0.0/16' };
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

/** The address other machines (and pods) reach this server at: never loopback. */
function advertiseAddress(bind: string): string | undefined {
  if (bind !== '0.0.0.0' && bind !== '::' && !bind.startsWith('127.') && bind !== '::1') return bind;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** Apply an AdmissionConfiguration file to the plugins that take one (PodSecurity). */
function configureAdmission(api: ApiServer, file: string): void {
  const config = loadPodSecurityConfiguration(file);
  for (const p of api.admission.validating) if (p instanceof PodSecurity) p.configure(config);
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
  const tlsDir = join(dataDir, 'server', 'tls');
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const port = Number(flags.httpsListenPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--https-listen-port: invalid port ${flags.httpsListenPort}`);
  const nodePortRange = parsePortRange(flags.serviceNodePortRange);

  const encryption = encryptionFromFlags(flags, dataDir);
  const etcd = isEtcdEndpoint(flags.datastoreEndpoint);
  const backend = openBackend(flags.datastoreEndpoint, join(dataDir, 'server', 'db'), {
    caFile: flags.datastoreCafile,
    certFile: flags.datastoreCertfile,
    keyFile: flags.datastoreKeyfile,
    etcdPrefix: flags.etcdPrefix,
    eventTtlSeconds: Math.max(1, Math.round(parseDurationMs(flags.eventTtl ?? '1h', '--event-ttl') / 1000)),
    onWarning: (msg, err) => logger.warn({ err }, msg),
  });
  await backend.start();

  const ca = await loadOrCreateCA(tlsDir);
  const api = new ApiServer({
    bindAddress: flags.bindAddress,
    port,
    tls: { cert: '', key: '', ca: ca.certPem },
    backend,
    encryption,
    cluster: { serviceCIDR: flags.serviceCidr, nodePortRange, clusterDomain: flags.clusterDomain },
    resources: builtinResources(),
    logger,
    limits: {
      requestTimeoutMs: parseDurationMs(flags.requestTimeout, '--request-timeout'),
      maxRequestsInflight: parseCount(flags.maxRequestsInflight, '--max-requests-inflight'),
      maxMutatingRequestsInflight: parseCount(flags.maxMutatingRequestsInflight, '--max-mutating-requests-inflight'),
      http2MaxStreamsPerConnection:
        parseCount(flags.http2MaxStreamsPerConnection, '--http2-max-streams-per-connection') ||
        DEFAULT_SERVING_LIMITS.http2MaxStreamsPerConnection,
    },
  });
  if (flags.admissionControlConfigFile) configureAdmission(api, flags.admissionControlConfigFile);
  const authorization = new Authorization(flags.authorizationMode);
  api.authorization = authorization;
  // Service-account tokens: TokenRequest, bearer-token authentication, ServiceAccount admission.
  installServiceAccountTokens(api, { keys: loadOrCreateServiceAccountKeys(join(tlsDir, 'service-account.key')) });
  // The join token agents present (`k8ts agent --server URL --token T`); see apiserver/join.ts.
  const joinToken = loadOrCreateServerToken(dataDir, ca.certPem, flags.token);
  new JoinService({ ca, secret: joinToken.secret, logger }).register(api.publicHandlers);
  const host = hostname();
  const domain = flags.clusterDomain;
  const sans = [
    'localhost',
    '127.0.0.1',
    '::1',
    host,
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    `kubernetes.default.svc.${domain}`,
    api.allocators.apiServerServiceIP,
    ...(flags.bindAddress !== '0.0.0.0' && flags.bindAddress !== '::' ? [flags.bindAddress] : []),
    ...flags.tlsSan,
  ];
  const serving = await loadOrIssue(ca, tlsDir, 'serving-kube-apiserver', {
    commonName: 'kube-apiserver',
    sans: [...new Set(sans)],
    server: true,
  });
  const admin = await loadOrIssue(ca, tlsDir, 'client-admin', {
    commonName: 'system:admin',
    organizations: ['system:masters'],
    client: true,
  });
  api.config.tls.cert = serving.certPem;
  api.config.tls.key = serving.keyPem;
  // The API server's identity towards node agents (logs, exec, port-forward).
  const kubeletClient = await loadOrIssue(ca, tlsDir, 'client-kube-apiserver-kubelet', {
    commonName: 'kube-apiserver-kubelet-client',
    organizations: ['system:masters'],
    client: true,
  });
  api.config.kubeletClient = { cert: kubeletClient.certPem, key: kubeletClient.keyPem, ca: ca.certPem };

  await api.start();
  await authorization.install(api);
  await bootstrap(api, { advertiseAddress: advertiseAddress(flags.bindAddress), port: api.port });
  // API aggregation: the front-proxy identity towards extension API servers (its own CA).
  await api.enableAggregation({ frontProxy: await loadOrCreateFrontProxy(tlsDir), clientCAPem: ca.certPem });
  // etcd: as kube-apiserver does, compact every interval down to the revision seen one interval ago.
  const compactionMs = etcd
    ? parseDurationMs(flags.etcdCompactionInterval ?? '5m', '--etcd-compaction-interval')
    : undefined;
  const compactor = compactionMs ? new Compactor(backend, compactionMs, compactionMs) : new Compactor(backend);
  compactor.start();
  const controllerManager = new ControllerManager({
    client: inProcessClient(api, { fieldManager: 'kube-controller-manager' }),
    logger,
    options: { ...controllerOptionsFromFlags(flags), rootCA: ca.certPem },
  });
  if (!flags.disableControllerManager) controllerManager.start();
  const scheduler = new SchedulerRunner({
    client: inProcessClient(api, {
      fieldManager: 'kube-scheduler',
      // Trusted in-process (system:masters), named as upstream's scheduler.
      user: { name: 'system:kube-scheduler', groups: ['system:masters', 'system:authenticated'] },
    }),
    logger,
  });
  if (!flags.disableScheduler) scheduler.start();
  // kube-system/kube-dns (at --cluster-dns) with the node agents' DNS listeners as endpoints.
  const kubeDNS = new KubeDNSController({
    client: inProcessClient(api, { fieldManager: 'k8ts-dns' }),
    clusterDNS: clusterDNSFromFlags(flags)[0],
    clusterDomain: flags.clusterDomain,
    logger,
  });
  await kubeDNS.start();
  const simCount = Number(flags.simulatedNodes ?? 0);
  if (!Number.isInteger(simCount) || simCount < 0)
    throw new Error(`--simulated-nodes: invalid count ${flags.simulatedNodes}`);
  const simulator =
    simCount > 0
      ? new NodeSimulator(
          inProcessClient(api, {
            fieldManager: 'kubelet',
            user: { name: 'system:node:sim', groups: ['system:nodes', 'system:masters'] },
          }),
          simOptionsFromFlags(simCount, flags),
          logger,
        )
      : undefined;
  await simulator?.start();
  // Simulated nodes get local-path volumes too (directories on this host), so PVCs bind there.
  const simNodes = new Set(simulator?.nodeNames ?? []);
  const simStorage = simulator
    ? new LocalPathProvisioner({
        client: inProcessClient(api, { fieldManager: 'local-path-provisioner' }),
        nodeName: 'k8ts-sim',
        servesNode: (n) => simNodes.has(n),
        storageDir: join(dataDir, 'sim', 'storage'),
        logger: logger.child({ node: 'k8ts-sim' }),
      })
    : undefined;
  await simStorage?.start();
  const agent = flags.disableAgent ? undefined : await startLocalAgent(api, ca, flags, dataDir, logger);
  // The built-in ingress controller (docs/ingress.md): ports 80/443 unless --disable-ingress.
  const ingress = await startIngressFromFlags(
    flags,
    'server',
    inProcessClient(api, { fieldManager: 'k8ts-ingress' }),
    logger,
    (flags.nodeName ?? host).toLowerCase(),
  );

  const kubeconfigPath = resolve(flags.writeKubeconfig ?? join(dataDir, 'kubeconfig.yaml'));
  const clientHost = flags.bindAddress === '0.0.0.0' || flags.bindAddress === '::' ? '127.0.0.1' : flags.bindAddress;
  const server = `https://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${api.port}`;
  writeKubeconfig(
    kubeconfigPath,
    { server, caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem },
    flags.writeKubeconfigMode ? parseInt(flags.writeKubeconfigMode, 8) : 0o600,
  );

  process.stdout.write(`k8ts server: node join token in ${joinToken.path}\n`);
  process.stdout.write(`k8ts server ready: ${server} (data ${dataDir}, kubeconfig ${kubeconfigPath})\n`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    compactor.stop();
    await ingress?.stop();
    await agent?.stop();
    await simStorage?.stop();
    await simulator?.stop();
    await scheduler.stop();
    await kubeDNS.stop();
    await controllerManager.stop();
    await api.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
