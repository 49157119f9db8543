// The server in one place: datastore, API server, certificates, service-account tokens,
// authorization, admission configuration, the join service, then the control plane (controller
// manager, scheduler, cluster DNS Service) and simulated nodes. `k8ts server` (cli/server.ts)
// turns its flags into ServerSettings and adds what needs a real host (node agent, ingress);
// the library's startCluster (embed/cluster.ts) picks defaults for a test process. Both get the
// same server, so a fix here reaches both.
import { hostname } from 'node:os';
import { join } from 'node:path';
import { mkdirSync, readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { builtinResources } from '../api/builtin.js';
import { ApiServer } from '../apiserver/server.js';
import type { ServingLimits } from '../apiserver/limits.js';
import { issue, loadOrCreateCA, loadOrIssue, storeKeyPair, type CA, type KeyPair } from '../machinery/pki.js';
import { CertificateRenewal } from '../machinery/certrenewal.js';
import { bootstrap } from '../apiserver/bootstrap.js';
import { ApiServerEndpointReconciler } from './endpointreconciler.js';
import { FRONT_PROXY_USER, loadOrCreateFrontProxy } from '../apiserver/aggregator/frontproxy.js';
import {
  JoinService,
  loadAgentToken,
  loadOrCreateServerToken,
  type ClusterConfig,
  type JoinServiceOptions,
} from '../apiserver/join.js';
import type { Backend } from '../storage/interface.js';
import { installServiceAccountTokens, loadOrCreateServiceAccountKeys } from '../apiserver/serviceaccount/index.js';
import { InProcessTransport, inProcessClient, type InProcessOptions } from '../apiserver/inprocess.js';
import { Authorization } from '../apiserver/authz/index.js';
import {
  installAuthenticators,
  RequestHeaderAuthenticator,
  requestHeaderOptions,
  tokenReviewResource,
  type AuthenticationOptions,
} from '../apiserver/authn/index.js';
import { signLegacyToken } from '../apiserver/serviceaccount/legacy.js';
import type { Auditor } from '../apiserver/audit/index.js';
import { PodSecurity, loadPodSecurityConfiguration } from '../apiserver/admission/podsecurity/index.js';
import type { EncryptionConfig } from '../apiserver/encryption/config.js';
import { openBackend, type DatastoreOptions } from '../storage/open.js';
import { Compactor } from '../storage/compactor.js';
import type { Client } from '../client/client.js';
import type { ControllerOptions } from '../controllers/types.js';
import type { SimOptions } from '../sim/config.js';
import type { KubeconfigInput } from './kubeconfig.js';
import type { KubeStateMetrics } from '../kubestate/index.js';
import type { UserInfo } from '../apiserver/user.js';
import { KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER, componentServiceAccount, controllerUser } from './identities.js';

export interface ServerSettings {
  /** Holds server/db (SQLite), server/tls (CA, certificates, service-account key), server/token. */
  dataDir: string;
  logger: Logger;
  bindAddress: string;
  /** 0: a free port. */
  port: number;
  /** Empty: SQLite under dataDir (see storage/open.ts for the other endpoints). */
  datastoreEndpoint?: string;
  datastore?: DatastoreOptions;
  /** Runs once the datastore is up, before anything reads it (moving SQLite into a new etcd). */
  prepareDatastore?: (backend: Backend) => Promise<void>;
  /** Compact history this often, keeping one interval (default: the Compactor's own schedule). */
  compactionIntervalMs?: number;
  encryption?: EncryptionConfig;
  cluster: {
    serviceCIDR: string;
    nodePortRange: [number, number];
    clusterDomain: string;
    /** The pod network backend agents are told to use (GET /k8ts/v1/cluster-config). */
    flannelBackend?: ClusterConfig['flannelBackend'];
  };
  limits?: Partial<ServingLimits>;
  /** Authorizers in order (default Node,RBAC). */
  authorizationMode?: string;
  /** Requests without credentials act as system:anonymous (default true; never with AlwaysAllow). */
  anonymousAuth?: boolean;
  /** Bearer tokens besides ServiceAccount tokens: a token file, bootstrap tokens, OIDC. */
  authentication?: AuthenticationOptions;
  /** AdmissionConfiguration file (PodSecurity's settings). */
  admissionControlConfigFile?: string;
  /** The audit log (apiserver/audit), when one is kept. */
  audit?: Auditor;
  /** Refuse pods whose ServiceAccount does not exist (default true; off when nothing creates them). */
  requireServiceAccount?: boolean;
  /** Extra names and addresses of the serving certificate. */
  tlsSans?: string[];
  /** The serving certificate's lifetime (default one year); it is renewed at 70–90 % of it. */
  servingCertificateLifetimeMs?: number;
  /** The address nodes and pods reach the API server at (the `kubernetes` Service's endpoint). */
  advertiseAddress?: string;
  /** Join secret for agents (default: the stored one, else a new one). */
  joinToken?: string;
  /** A token that joins agents but not servers (default: the stored one, if any). */
  agentToken?: string;
  /** What servers joining this one get (absent: server joins are refused). */
  joinServers?: JoinServiceOptions['servers'];
  /** Controller manager settings; false: none in this process. */
  controllers: ControllerOptions | false;
  /** Controllers left out by name (kube-controller-manager's `--controllers=*,-NAME`). */
  disabledControllers?: string[];
  /** Run the scheduler in this process. */
  scheduler: boolean;
  /** Run it on a worker thread of its own (default true); false: on the API server's event loop. */
  schedulerThread?: boolean;
  /** Leader election of the controller manager and scheduler (off when nothing else competes). */
  leaderElection?: boolean;
  /** Keep kube-system/kube-dns at this ClusterIP (node agents' DNS listeners are its endpoints). */
  clusterDNS?: string;
  /** Serve the web dashboard at /dashboard/ (src/dashboard, docs/dashboard.md). */
  dashboard?: boolean;
  /** Simulated nodes in this process (with local-path volumes under dataDir/sim/storage). */
  simulator?: SimOptions;
  /** HelmChart controller and auto-deployed manifests (dataDir/server/manifests), as k3s's. */
  helm?: { disable?: string[]; manifests?: boolean };
}

export interface AssembledServer {
  api: ApiServer;
  ca: CA;
  dataDir: string;
  /** HTTPS address for clients on this host. */
  url: string;
  /** An admin (system:masters) identity for `url`, to render a kubeconfig from. */
  adminKubeconfig: KubeconfigInput;
  /** File holding the full join token. */
  joinTokenPath: string;
  /** A client calling the API server in process. */
  client(opts: InProcessOptions): Client;
  /**
   * The in-process client of a component: its writes carry `fieldManager`, its calls are
   * authorized as `user` (server/identities.ts), as upstream's components are clients of their own.
   */
  componentClient(fieldManager: string, user: UserInfo): Client;
  /** Stops every component started here, then the API server and datastore. */
  stop(): Promise<void>;
}

/** Apply an AdmissionConfiguration file to the plugins that take one (PodSecurity). */
function configureAdmission(api: ApiServer, file: string): void {
  const config = loadPodSecurityConfiguration(file);
  for (const p of api.admission.validating) if (p instanceof PodSecurity) p.configure(config);
}

const isWildcard = (address: string) => address === '0.0.0.0' || address === '::';

export async function assembleServer(s: ServerSettings): Promise<AssembledServer> {
  const { logger, dataDir } = s;
  const tlsDir = join(dataDir, 'server', 'tls');
  mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
  const backend = await openBackend(s.datastoreEndpoint, join(dataDir, 'server', 'db'), {
    ...s.datastore,
    onWarning: s.datastore?.onWarning ?? ((msg, err) => logger.warn({ err }, msg)),
  });
  // The datastore starts (SQLite: its writer thread boots) while the cluster CA is loaded or made.
  const datastoreReady = backend.start().then(() => s.prepareDatastore?.(backend));
  datastoreReady.catch(() => {}); // awaited below; no unhandled rejection meanwhile
  const ca = await loadOrCreateCA(tlsDir);
  await datastoreReady;
  const authorization = new Authorization(s.authorizationMode);
  let anonymousAuth = s.anonymousAuth ?? true;
  if (anonymousAuth && authorization.modes.includes('AlwaysAllow')) {
    // As kube-apiserver: anonymous users would be allowed everything.
    logger.warn('AnonymousAuth is not allowed with the AlwaysAllow authorizer. Resetting AnonymousAuth to false.');
    anonymousAuth = false;
  }
  const api = new ApiServer({
    bindAddress: s.bindAddress,
    port: s.port,
    tls: { cert: '', key: '', ca: ca.certPem },
    backend,
    encryption: s.encryption,
    cluster: s.cluster,
    resources: builtinResources(),
    logger,
    anonymousAuth,
    limits: s.limits,
  });
  if (s.admissionControlConfigFile) configureAdmission(api, s.admissionControlConfigFile);
  api.audit = s.audit;
  api.authorization = authorization;
  // Service-account tokens: TokenRequest, bearer-token authentication, ServiceAccount admission.
  const serviceAccountKeys = loadOrCreateServiceAccountKeys(join(tlsDir, 'service-account.key'));
  installServiceAccountTokens(api, { keys: serviceAccountKeys, requireServiceAccount: s.requireServiceAccount });
  // Token file, bootstrap tokens, OIDC (each accepts tokens of its own form only).
  if (s.authentication) installAuthenticators(api, { ...s.authentication, warn: (m) => logger.warn(m) });
  // Front proxies (--requestheader-*; by default the aggregator's own CA, as k3s): the listener
  // asks for and trusts client certificates of both CAs; which one issued a chain decides what it is.
  const frontProxy = await loadOrCreateFrontProxy(tlsDir, s.authentication?.proxyClient);
  const requestHeader = requestHeaderOptions(
    s.authentication?.requestHeader ?? {},
    { caPem: frontProxy.caPem, commonName: FRONT_PROXY_USER },
    (f) => readFileSync(f, 'utf8'),
  );
  api.authentication.trustRequestHeader(new RequestHeaderAuthenticator(requestHeader), ca.certPem);
  api.config.tls.ca = `${ca.certPem.trim()}\n${requestHeader.clientCA.trim()}\n`;
  // TokenReview: node agents authenticate bearer tokens presented to them through it.
  await api.addResource(tokenReviewResource(api.authentication));
  // The join token agents present (`k8ts agent --server URL --token T`); see apiserver/join.ts.
  const joinToken = loadOrCreateServerToken(dataDir, ca.certPem, s.joinToken);
  const agentToken = loadAgentToken(dataDir, ca.certPem, s.agentToken);
  new JoinService({
    ca,
    secret: joinToken.secret,
    tokenFile: joinToken.path,
    agentSecret: agentToken?.secret,
    logger,
    servers: s.joinServers,
    cluster: { clusterDomain: s.cluster.clusterDomain, flannelBackend: s.cluster.flannelBackend ?? 'vxlan' },
  }).register(api.publicHandlers);
  if (s.dashboard)
    for (const [path, handler] of (await import('../dashboard/static.js')).dashboardHandlers())
      api.publicHandlers.set(path, handler);

  const domain = s.cluster.clusterDomain;
  const sans = [
    'localhost',
    '127.0.0.1',
    '::1',
    hostname(),
    'kubernetes',
    'kubernetes.default',
    'kubernetes.default.svc',
    `kubernetes.default.svc.${domain}`,
    api.allocators.apiServerServiceIP,
    ...(isWildcard(s.bindAddress) ? [] : [s.bindAddress]),
    ...(s.advertiseAddress ? [s.advertiseAddress] : []),
    ...(s.tlsSans ?? []),
  ];
  const servingOptions = {
    commonName: 'kube-apiserver',
    sans: [...new Set(sans)],
    server: true,
    validMs: s.servingCertificateLifetimeMs,
  };
  const [serving, admin, kubeletClient]: KeyPair[] = await Promise.all([
    loadOrIssue(ca, tlsDir, 'serving-kube-apiserver', servingOptions),
    loadOrIssue(ca, tlsDir, 'client-admin', {
      commonName: 'system:admin',
      organizations: ['system:masters'],
      client: true,
    }),
    // The API server's identity towards node agents (logs, exec, port-forward).
    loadOrIssue(ca, tlsDir, 'client-kube-apiserver-kubelet', {
      commonName: 'kube-apiserver-kubelet-client',
      organizations: ['system:masters'],
      client: true,
    }),
  ]);
  api.config.tls.cert = serving.certPem;
  api.config.tls.key = serving.keyPem;
  api.config.kubeletClient = { cert: kubeletClient.certPem, key: kubeletClient.keyPem, ca: ca.certPem };

  await api.start();
  // Renewed while the server runs (at 70–90 % of its lifetime), stored for the next start.
  const servingRenewal = new CertificateRenewal({
    certPem: serving.certPem,
    renew: async () => {
      const pair = await issue(ca, servingOptions);
      storeKeyPair(tlsDir, 'serving-kube-apiserver', pair);
      return pair;
    },
    apply: (pair) => api.setServingCertificate(pair.certPem, pair.keyPem),
    log: logger,
  }).start();
  await authorization.install(api);
  await bootstrap(api, { port: api.port });
  // API Priority and Fairness: its configuration objects, kept from now on.
  await api.flowControl?.start();
  // The `kubernetes` Service's endpoints: every live server's advertise address (Leases).
  const endpointReconciler = s.advertiseAddress
    ? new ApiServerEndpointReconciler({
        client: inProcessClient(api, {
          fieldManager: 'kube-apiserver',
          user: { name: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] },
        }),
        address: s.advertiseAddress,
        port: api.port,
        logger,
      })
    : undefined;
  await endpointReconciler?.start();
  // API aggregation: the front-proxy identity towards extension API servers (its own CA).
  await api.enableAggregation({ frontProxy, clientCAPem: ca.certPem, requestHeader });
  // As kube-apiserver does for etcd: compact every interval down to the revision seen one interval ago.
  const compactor = s.compactionIntervalMs
    ? new Compactor(backend, s.compactionIntervalMs, s.compactionIntervalMs)
    : new Compactor(backend);
  compactor.start();

  const client = (opts: InProcessOptions) => inProcessClient(api, opts);
  // Every component below gets its client here, under its own identity (server/identities.ts).
  const componentClient = (fieldManager: string, user: UserInfo) => client({ fieldManager, user });
  const noLeaderElection = s.leaderElection === false ? { leaderElection: false as const } : {};
  // Each optional component's code is loaded only when it runs (a library user's test process
  // with no nodes never loads the scheduler or the simulator).
  const cm = s.controllers ? await import('../controllers/manager.js') : undefined;
  // Argo Rollouts' Rollout (docs/rollouts.md): one more controller of the manager, named `rollouts`.
  const rollouts = s.controllers ? await import('../rollouts/controller.js') : undefined;
  const controllerManager =
    cm && s.controllers
      ? new cm.ControllerManager({
          client: componentClient('kube-controller-manager', KUBE_CONTROLLER_MANAGER),
          // --use-service-account-credentials: each controller as kube-system/NAME.
          clientFor: (name) => componentClient('kube-controller-manager', controllerUser(name)),
          logger,
          options: {
            ...s.controllers,
            rootCA: ca.certPem,
            legacyServiceAccountToken: (sa, secret) => signLegacyToken(serviceAccountKeys, sa, secret),
          },
          // Certificates for CSRs are signed with the cluster CA, which only this process holds.
          controllers: Object.fromEntries(
            Object.entries({
              ...cm.DEFAULT_CONTROLLERS,
              csrsigning: cm.csrSigningController(ca),
              ...(rollouts && { rollouts: rollouts.rolloutController }),
            }).filter(([name]) => !s.disabledControllers?.includes(name)),
          ),
          ...noLeaderElection,
        })
      : undefined;
  controllerManager?.start();
  // kube-state-metrics' families on the API port (loaded, and its informers started, on the first scrape).
  let kubeState: Promise<KubeStateMetrics> | undefined;
  api.nonResourceHandlers.set('/metrics/kube-state', async (_req, res) => {
    kubeState ??= import('../kubestate/index.js').then(
      (m) =>
        new m.KubeStateMetrics(componentClient('kube-state-metrics', componentServiceAccount('kube-state-metrics'))),
    );
    const body = await (await kubeState).render();
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    res.end(body);
  });
  // On a worker thread of its own unless told otherwise (server/schedulerthread.ts).
  const scheduler = !s.scheduler
    ? undefined
    : s.schedulerThread === false
      ? new (await import('../scheduler/runner.js')).SchedulerRunner({
          client: componentClient('kube-scheduler', KUBE_SCHEDULER),
          logger,
          ...noLeaderElection,
        })
      : new (await import('./schedulerthread.js')).SchedulerThread({
          transport: () => new InProcessTransport(api, { fieldManager: 'kube-scheduler', user: KUBE_SCHEDULER }),
          logger,
          options: noLeaderElection,
        });
  scheduler?.start();
  const kubeDNS = s.clusterDNS
    ? new (await import('../dns/kubedns.js')).KubeDNSController({
        client: componentClient('k8ts-dns', componentServiceAccount('k8ts-dns')),
        clusterDNS: s.clusterDNS,
        clusterDomain: domain,
        logger,
      })
    : undefined;
  await kubeDNS?.start();
  const simulator = s.simulator
    ? new (await import('../sim/simulator.js')).NodeSimulator(
        client({
          fieldManager: 'kubelet',
          // Not a node identity: it acts for every simulated node (NodeRestriction would hold it to one).
          user: { name: 'system:k8ts-node-simulator', groups: ['system:masters', 'system:authenticated'] },
        }),
        s.simulator,
        logger,
      )
    : undefined;
  await simulator?.start();
  // Simulated nodes get local-path volumes too (directories on this host), so PVCs bind there.
  const simNodes = new Set(simulator?.nodeNames ?? []);
  const simStorage = simulator
    ? new (await import('../agent/provisioner/localpath.js')).LocalPathProvisioner({
        client: componentClient('local-path-provisioner', componentServiceAccount('local-path-provisioner')),
        nodeName: 'k8ts-sim',
        servesNode: (n) => simNodes.has(n),
        storageDir: join(dataDir, 'sim', 'storage'),
        logger: logger.child({ node: 'k8ts-sim' }),
      })
    : undefined;
  await simStorage?.start();
  // k3s's helm-controller and deploy controller (docs/charts.md), loaded only when they run.
  const helm = s.helm ? await import('../chart/helmcontroller/index.js') : undefined;
  const helmRunning =
    helm && s.helm
      ? await helm.startHelmControllers(
          componentClient('helm-controller', componentServiceAccount('helm-controller')),
          logger,
          {
            manifestsDir: s.helm.manifests === false ? undefined : join(dataDir, 'server', 'manifests'),
            disable: s.helm.disable,
          },
        )
      : undefined;

  const clientHost = isWildcard(s.bindAddress) ? '127.0.0.1' : s.bindAddress;
  const url = `https://${clientHost.includes(':') ? `[${clientHost}]` : clientHost}:${api.port}`;
  return {
    api,
    ca,
    dataDir,
    url,
    adminKubeconfig: { server: url, caPem: ca.certPem, certPem: admin.certPem, keyPem: admin.keyPem },
    joinTokenPath: joinToken.path,
    client,
    componentClient,
    async stop() {
      servingRenewal.stop();
      compactor.stop();
      await helmRunning?.stop();
      await simStorage?.stop();
      await simulator?.stop();
      await scheduler?.stop();
      await kubeDNS?.stop();
      await controllerManager?.stop();
      await (await kubeState)?.stop();
      await endpointReconciler?.stop();
      await api.stop();
    },
  };
}
