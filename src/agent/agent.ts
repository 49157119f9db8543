// The node agent (kubelet): registers the node, runs the pods the scheduler binds to it through
// a container runtime (containerd over CRI, or host processes), probes them, reports their status
// and the node's, serves logs/exec/port-forward to the API server, and provisions local volumes.
// Everything goes through the API, so the same agent runs inside `k8ts server` and as `k8ts agent`.
import { CertificateRenewal, type CertificatePair } from '../machinery/certrenewal.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Pod, Service, Taint } from 'kubernetes-types/core/v1.js';
import type { Stored } from '../client/types.js';
import { R, type Client } from '../client/client.js';
import { ControllerRunner } from '../client/controller.js';
import { EventRecorder } from '../client/events.js';
import { SharedIndexInformer, keyOf } from '../client/informer.js';
import { ItemExponentialFailureRateLimiter } from '../client/workqueue.js';
import { NodeReporter } from './node.js';
import { primaryIPv4, meminfo } from './hostinfo.js';
import { StatsCollector } from './stats.js';
import { ImageGC } from './imagegc.js';
import { DEFAULT_EVICTION_HARD, EvictionManager, parseEvictionHard, thresholdAmount } from './eviction.js';
import { PodSyncer } from './pods/sync.js';
import { parseResolvConf } from './pods/sandbox.js';
import type { Runtime } from './runtime/types.js';
import { LABEL } from './runtime/types.js';
import { CriRuntime } from './runtime/cri/runtime.js';
import {
  ContainerdProcess,
  bridgeName,
  cniConfig,
  containerdPaths,
  missingForContainerd,
  writeCniConfig,
} from './runtime/containerd.js';
import { ProcessRuntime } from './runtime/process/runtime.js';
import { buildTestImage, PAUSE_IMAGE } from './images/testimages.js';
import { hasImage, importImage } from './images/containerd.js';
import { authFor, loadRegistries, type Registries } from './runtime/registries.js';
import { ProbeManager } from './probes/manager.js';
import { DeviceManager } from './devices/manager.js';
import { PLUGIN_DIR_NAME } from './devices/api.js';
import { probeKillingEvent, probeResultEvent } from './probes/events.js';
import { VolumeManager } from './volumes/manager.js';
import { containerEnv } from './env.js';
import { AgentServer, type PodLocator } from './server.js';
import { AgentMetrics } from './metrics.js';
import { NodeLogging, type NodeLoggingSettings } from './logging/node.js';
import { AgentAuth, clientReviewer } from './auth.js';
import { LocalPathProvisioner } from './provisioner/localpath.js';
import { HostGwBackend, PodRoutes, cleanUpPodRoutes, type FlannelBackend } from './network/routes.js';
import { VxlanBackend, removeVxlanDevice } from './network/vxlan.js';
import { ensureBridgeGateway, podCIDRConflict } from './network/bridge.js';
import { ClusterDNS, loopbackListenerAddress } from '../dns/service.js';
import { hostObjectName } from '../machinery/hostnames.js';
import { startServiceProxy, type ProxySettings } from '../proxy/index.js';
import type { Proxier } from '../proxy/proxier.js';
import { startLBAnnouncer, type LBAnnouncer } from './network/lbannounce.js';
import { cleanUpNetworkPolicy, startNetworkPolicyController } from '../netpol/index.js';
import type { NetworkPolicyController } from '../netpol/controller.js';

export type RuntimeChoice = 'auto' | 'containerd' | 'process';

export interface AgentOptions {
  client: Client;
  /** The service proxy's client, when it has an identity of its own (system:kube-proxy); default `client`. */
  proxyClient?: Client;
  /** The event exporter's client (it watches every namespace's Events, which a node may not); default `client`. */
  eventsClient?: Client;
  nodeName: string;
  /** The data dir of this k8ts installation; the agent keeps its files in <dataDir>/agent. */
  dataDir: string;
  isDefaultDataDir: boolean;
  runtime: RuntimeChoice;
  /** An existing CRI socket to use instead of starting k8ts' own containerd. */
  containerRuntimeEndpoint?: string;
  /** registries.yaml (k3s format) with mirrors and credentials; default <dataDir>/registries.yaml if present. */
  privateRegistry?: string;
  nodeIP?: string;
  /** Port of the agent's HTTPS server (logs, exec, port-forward); 0 picks a free one. */
  port: number;
  /** Serving certificate of the agent and the CA that signs API server client certificates. */
  tls: { cert: string; key: string; ca: string };
  /**
   * Obtains a new serving certificate: renewed while the agent runs, at 70–90 % of the current
   * one's lifetime (the kubelet's rotateServerCertificates); absent, the certificate stays.
   */
  renewServingCertificate?: () => Promise<CertificatePair>;
  /** The cluster DNS address pods use (--cluster-dns, the kube-dns Service IP). */
  clusterDNS: string[];
  clusterDomain: string;
  /** The host's resolvers (--resolv-conf): upstreams of the cluster DNS, dnsPolicy Default's file. */
  resolvConf?: string;
  /** Port of this node's DNS listener on its pod-bridge gateway (53; 0 picks one, for tests). */
  dnsPort?: number;
  labels?: Record<string, string>;
  taints?: Taint[];
  /** Hard eviction thresholds (--eviction-hard), e.g. memory.available<100Mi. */
  evictionHard?: string;
  /** Most processes a pod may run (--pod-max-pids; -1: no limit). */
  podMaxPids?: number;
  /** Container log layout, rotation and shipping (src/agent/logging). */
  logging?: NodeLoggingSettings;
  /** The service proxy (kube-proxy's job; undefined: --disable-kube-proxy). */
  proxy?: ProxySettings;
  /** Run no NetworkPolicy controller (--disable-network-policy). */
  disableNetworkPolicy?: boolean;
  /** How pod traffic crosses between nodes (the cluster's --flannel-backend; default vxlan). */
  flannelBackend?: FlannelBackend;
  logger: Logger;
}

const RELIST_MS = 1_000;
const STATS_MS = 10_000;
const IMAGE_GC_MS = 5 * 60_000;
/** How often the eviction manager looks at the signals (upstream: 10 s). */
const EVICTION_MS = 10_000;

export class NodeAgent {
  readonly dir: string;
  runtime!: Runtime;
  private containerd?: ContainerdProcess;
  private registries?: Registries;
  private reporter!: NodeReporter;
  private pods!: SharedIndexInformer<Pod>;
  /** Services, for the environment variables every container gets (FOO_SERVICE_HOST ...). */
  private services!: SharedIndexInformer<Service>;
  private runner!: ControllerRunner;
  private syncer!: PodSyncer;
  private probes!: ProbeManager;
  private server?: AgentServer;
  private servingRenewal?: CertificateRenewal;
  private provisioner?: LocalPathProvisioner;
  private stats?: StatsCollector;
  private logging?: NodeLogging;
  private eviction?: EvictionManager;
  /** Device plugins (extended resources): registration, device health, allocation. */
  private devices?: DeviceManager;
  private timers: NodeJS.Timeout[] = [];
  private fingerprints = new Map<string, string>();
  private networkReady = false;
  /** Why the pod network cannot be set up yet (its range routed elsewhere on this host). */
  private networkConflict?: string;
  /** Routes to the other nodes' podCIDRs (containerd only; see network/routes.ts and vxlan.ts). */
  private podRoutes?: PodRoutes;
  /** This node's cluster DNS listener (on the pod bridge's gateway; the process runtime's on loopback). */
  private dns?: ClusterDNS;
  /** The nameservers pods get instead of --cluster-dns (the process runtime's: its loopback listener, or none). */
  private podClusterDNS?: string[];
  /** Services' cluster IPs, NodePorts and external addresses on this node (src/proxy). */
  private proxier?: Proxier;
  /** Pool addresses of LoadBalancer Services this node is elected to answer for (network/lbannounce.ts). */
  private lbAnnouncer?: LBAnnouncer;
  /** NetworkPolicy enforcement for this node's pods (src/netpol). */
  private netpol?: NetworkPolicyController;
  private stopped = false;
  private log: Logger;
  /** For the agent's parts that name themselves (pino would repeat a `component` key). */
  private nodeLog: Logger;
  private nodeIP: string;

  constructor(private o: AgentOptions) {
    this.dir = join(o.dataDir, 'agent');
    this.nodeLog = o.logger.child({ node: o.nodeName });
    this.log = this.nodeLog.child({ component: 'k8ts-agent' });
    this.nodeIP = o.nodeIP ?? primaryIPv4();
  }

  /** Picks and starts the container runtime; says what is missing when containerd cannot be used. */
  private async startRuntime(): Promise<Runtime> {
    mkdirSync(this.dir, { recursive: true });
    const paths = containerdPaths(this.dir);
    let choice = this.o.runtime;
    this.registries = loadRegistries(this.o.privateRegistry, this.o.dataDir);
    if (this.o.containerRuntimeEndpoint) {
      const external = new CriRuntime(this.o.containerRuntimeEndpoint);
      await external.waitServing(60_000);
      return external;
    }
    if (choice !== 'process') {
      const missing = missingForContainerd(paths);
      if (missing.length) {
        const msg = `the containerd runtime needs: ${missing.join('; ')}`;
        if (choice === 'containerd') throw new Error(msg);
        this.log.warn(`${msg}. Falling back to the process runtime (containers run as host processes, not isolated).`);
        process.stderr.write(
          `k8ts agent: ${msg}.\nk8ts agent: using the process runtime instead: containers run as host processes without isolation.\n`,
        );
        choice = 'process';
      } else choice = 'containerd';
    }
    writeFileSync(join(this.dir, 'runtime'), `${choice}\n`);
    if (choice === 'process') return new ProcessRuntime(join(this.dir, 'process'));
    this.containerd = new ContainerdProcess(paths, PAUSE_IMAGE, this.log, this.registries);
    await this.containerd.start();
    if (!(await hasImage(paths.socket, PAUSE_IMAGE))) {
      // The sandbox image is built here from the host's busybox: no registry needed.
      await importImage(paths.socket, buildTestImage('pause').tar);
      this.log.info({ image: PAUSE_IMAGE }, 'sandbox image imported');
    }
    const cri = new CriRuntime(paths.socket);
    await cri.waitServing(60_000);
    return cri;
  }

  private notReady(): string | undefined {
    if (!this.networkReady)
      return `container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: ${this.networkConflict ?? 'cni plugin not initialized (waiting for the node podCIDR)'}`;
    return undefined;
  }

  /**
   * Writes the CNI network for the node's podCIDR once the control plane assigned it; on a
   * dual-stack cluster pods also get an address of the node's IPv6 range (spec.podCIDRs).
   */
  private setUpNetwork(podCIDR: string | undefined, podCIDRs: string[] = []): void {
    if (this.runtime.name !== 'containerd') {
      this.networkReady = true;
      return;
    }
    if (!podCIDR || this.networkReady) return;
    const bridge = bridgeName(this.dir, this.o.isDefaultDataDir);
    // Checked again until it clears (waitForPodCIDR calls again): pods started now could not be
    // answered by their node (its DNS listener among them).
    const conflict = podCIDRConflict(bridge, [podCIDR, ...podCIDRs.filter((c) => c !== podCIDR)]);
    if (conflict !== this.networkConflict) {
      this.networkConflict = conflict;
      if (conflict) this.log.error({ podCIDR }, `pod network not set up: ${conflict}`);
      void this.reporter.reportStatus(true).catch(() => undefined);
    }
    if (conflict) return;
    // Pods reach beyond the node through it (the CNI bridge masquerades their traffic).
    try {
      writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
    } catch (err) {
      this.log.warn({ err }, 'could not enable IP forwarding; pods will not reach other hosts');
    }
    const paths = containerdPaths(this.dir);
    const netDir = join(this.dir, 'network');
    const routesFile = join(netDir, 'routes.json');
    const vxlanFile = join(netDir, 'vxlan.json');
    const type = this.o.flannelBackend ?? 'vxlan';
    const backend =
      type === 'vxlan'
        ? new VxlanBackend({ nodeIP: this.nodeIP, podCIDR, stateFile: vxlanFile })
        : type === 'host-gw'
          ? new HostGwBackend(this.nodeIP)
          : undefined;
    // What an earlier run with another backend left: its overlay device, or every route (none).
    if (type !== 'vxlan') removeVxlanDevice(vxlanFile);
    if (!backend) cleanUpPodRoutes(routesFile, bridge);
    const mtu = backend instanceof VxlanBackend ? backend.podMTU() : undefined;
    const podCIDRv6 = podCIDRs.find((c) => c.includes(':'));
    if (podCIDRv6)
      try {
        writeFileSync('/proc/sys/net/ipv6/conf/all/forwarding', '1');
      } catch (err) {
        this.log.warn({ err }, 'could not enable IPv6 forwarding; pods will not reach other hosts over IPv6');
      }
    writeCniConfig(paths, cniConfig({ podCIDR, podCIDRv6, bridge, ipamDir: join(this.dir, 'cni', 'ipam'), mtu }));
    this.networkReady = true;
    if (!this.stopped) {
      if (backend) {
        this.podRoutes = new PodRoutes({
          client: this.o.client,
          nodeName: this.o.nodeName,
          podCIDR,
          bridge,
          stateFile: routesFile,
          backend,
          logger: this.nodeLog,
        });
        this.podRoutes.start();
      }
      void this.startDNS(podCIDR, bridge);
    }
    this.log.info({ podCIDR, podCIDRv6, backend: type, mtu }, 'pod network configured');
    void this.reporter.reportStatus(true).catch(() => undefined);
  }

  /** The node's DNS listener on the pod bridge's gateway, where this node's pods reach it. */
  private async startDNS(podCIDR: string, bridge: string): Promise<void> {
    const gw = ensureBridgeGateway(bridge, podCIDR);
    if ('error' in gw) {
      this.log.warn({ error: gw.error }, 'no cluster DNS on this node: the pod bridge could not be prepared');
      return;
    }
    await this.listenDNS(gw.gateway, true);
  }

  /**
   * The process runtime's pods share the host's network, so no bridge gateway: they are given this
   * node's DNS listener on a loopback address of this data dir's own (NodeLocal DNSCache's way), not
   * published as a kube-dns endpoint (other nodes cannot reach it). Port 53 is the only port a
   * resolv.conf can name; when it cannot be bound (not root), the pods keep the host's resolvers.
   */
  private async startLoopbackDNS(): Promise<string[] | undefined> {
    const address = loopbackListenerAddress(hostObjectName(this.dir, this.o.isDefaultDataDir));
    return (await this.listenDNS(address, false)) ? [address] : undefined;
  }

  private async listenDNS(address: string, announce: boolean): Promise<boolean> {
    const resolvText = readFileSafe(this.o.resolvConf ?? '/etc/resolv.conf');
    const dns = new ClusterDNS({
      client: this.o.client,
      nodeName: this.o.nodeName,
      clusterDomain: this.o.clusterDomain,
      address,
      port: this.o.dnsPort ?? 53,
      hostResolvConf: resolvText,
      hostSearch: parseResolvConf(resolvText).searches,
      announce,
      logger: this.nodeLog,
    });
    try {
      await dns.start();
      if (this.stopped) await dns.stop();
      else this.dns = dns;
      return !this.stopped;
    } catch (err) {
      this.log.warn({ err, address }, 'cluster DNS listener could not start');
      await dns.stop().catch(() => undefined);
      return false;
    }
  }

  async start(): Promise<void> {
    this.runtime = await this.startRuntime();
    const client = this.o.client;
    const recorder = new EventRecorder(client, { component: 'kubelet', host: this.o.nodeName }, this.log);
    this.stats = new StatsCollector(this.runtime);
    this.server = new AgentServer({
      port: this.o.port,
      bindAddress: '0.0.0.0',
      tls: this.o.tls,
      locator: this.locator(),
      // Callers are authenticated and authorized by the API server, as the node (TokenReview, SAR).
      auth: new AgentAuth({ reviewer: clientReviewer(client), nodeName: this.o.nodeName }),
      logger: this.log,
      metrics: new AgentMetrics(this.runtime, this.o.nodeName),
    });
    const port = await this.server.start();
    const renew = this.o.renewServingCertificate;
    if (renew) {
      const server = this.server;
      this.servingRenewal = new CertificateRenewal({
        certPem: this.o.tls.cert,
        renew,
        apply: (pair) => server.setServingCertificate(pair.certPem, pair.keyPem),
        log: this.log,
      }).start();
    }
    await this.startDevices();
    const imageFsPath = this.containerd ? join(this.containerd.paths.dir, 'root') : this.dir;
    const imageGC = new ImageGC({ runtime: this.runtime, imageFsPath, pinned: [PAUSE_IMAGE], logger: this.log });
    await this.startNode(port, imageFsPath, imageGC);
    if (this.runtime.name === 'process' && this.o.clusterDNS.length)
      this.podClusterDNS = (await this.startLoopbackDNS()) ?? [];
    await this.startPods(recorder);
    this.setUpNetwork(this.reporter.podCIDR, this.reporter.podCIDRs);
    this.waitForPodCIDR();
    this.runner.start();
    this.startHousekeeping(imageGC);
    if (this.o.proxy) {
      this.proxier = await startServiceProxy({
        client: this.o.proxyClient ?? client,
        nodeName: this.o.nodeName,
        agentDir: this.dir,
        isDefaultDataDir: this.o.isDefaultDataDir,
        settings: this.o.proxy,
        logger: this.nodeLog,
      });
      this.lbAnnouncer = await startLBAnnouncer({
        client,
        nodeName: this.o.nodeName,
        nodeIP: this.nodeIP,
        stateFile: join(this.dir, 'network', 'lb-addresses.json'),
        logger: this.nodeLog,
      });
    }
    if (this.runtime.name === 'containerd' && !this.o.disableNetworkPolicy)
      this.netpol = startNetworkPolicyController({
        client,
        nodeName: this.o.nodeName,
        agentDir: this.dir,
        isDefaultDataDir: this.o.isDefaultDataDir,
        logger: this.nodeLog,
      });
    // Turned off: the rules of an earlier run must not keep isolating pods.
    else if (this.runtime.name === 'containerd') await cleanUpNetworkPolicy(this.dir, this.o.isDefaultDataDir);
    this.provisioner = new LocalPathProvisioner({
      client,
      nodeName: this.o.nodeName,
      storageDir: join(this.o.dataDir, 'storage'),
      logger: this.nodeLog,
    });
    await this.provisioner.start();
    this.log.info({ runtime: this.runtime.name, port, nodeIP: this.nodeIP }, 'node agent running');
  }

  /** Device plugins register on <agent dir>/device-plugins/kubelet.sock (optional: a failure only disables them). */
  private async startDevices(): Promise<void> {
    this.devices = new DeviceManager({
      dir: join(this.dir, PLUGIN_DIR_NAME),
      logger: this.nodeLog,
      onChange: () =>
        void this.reporter?.reportStatus(true).catch((err) => this.log.warn({ err }, 'node status update failed')),
      isActive: (uid) => {
        if (!this.pods?.hasSynced()) return true;
        const phase = this.podByUID(uid)?.status?.phase;
        return !!this.podByUID(uid) && phase !== 'Succeeded' && phase !== 'Failed';
      },
    });
    await this.devices.start().catch((err) => {
      this.log.warn(
        { err },
        'device plugin registration unavailable; extended resources from device plugins are disabled',
      );
      this.devices = undefined;
    });
  }

  /** The Node object, its status and Lease, with the eviction manager whose pressures it reports. */
  private async startNode(port: number, imageFsPath: string, imageGC: ImageGC): Promise<void> {
    const version = await this.runtime.version();
    const thresholds = parseEvictionHard(this.o.evictionHard ?? DEFAULT_EVICTION_HARD);
    const memoryThreshold = thresholds.find((t) => t.signal === 'memory.available');
    this.eviction = new EvictionManager({
      thresholds,
      nodefsPath: this.o.dataDir,
      imagefsPath: imageFsPath,
      pods: () =>
        this.pods.store
          .list()
          .filter(
            (p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata.deletionTimestamp,
          ),
      memoryUsage: (p) => this.stats?.podMemory(`${p.metadata.namespace}/${p.metadata.name}`) ?? 0,
      reclaimDisk: async () => (await imageGC.collect()).length > 0,
      evict: (pod, message) => this.syncer.evict(pod, message),
    });
    this.reporter = new NodeReporter({
      client: this.o.client,
      nodeName: this.o.nodeName,
      nodeIP: this.nodeIP,
      hostname: this.o.nodeName,
      dataDir: this.o.dataDir,
      port,
      runtimeVersion: `${version.runtimeName}://${version.runtimeVersion}`,
      isolated: this.runtime.isolated,
      labels: this.o.labels ?? {},
      taints: this.o.taints ?? [],
      notReady: () => this.notReady(),
      usage: () => this.stats?.encoded(),
      underPressure: (p) => this.eviction?.underPressure(p) ?? false,
      memoryReserveBytes: memoryThreshold ? thresholdAmount(memoryThreshold, meminfo().totalBytes) : 0,
      extendedResources: () => this.devices?.resources() ?? {},
      logger: this.log,
    });
    await this.reporter.register();
    this.reporter.start();
  }

  /** Probes, volumes and the pod syncer, driven by an informer over the pods bound to this node. */
  private async startPods(recorder: EventRecorder): Promise<void> {
    const client = this.o.client;
    const hostResolv = parseResolvConf(readFileSafe(this.o.resolvConf ?? '/etc/resolv.conf'));
    this.probes = new ProbeManager({
      onResult: (uid, name, kind, outcome) => {
        const pod = this.podByUID(uid);
        const ev = probeResultEvent(kind, outcome);
        if (pod && ev) recorder.event(podRef(pod), ev.type, ev.reason, ev.message, `spec.containers{${name}}`);
      },
      onLivenessFailure: (uid, name, id) => this.restartUnhealthy(recorder, uid, name, id, 'liveness'),
      onStartupFailure: (uid, name, id) => this.restartUnhealthy(recorder, uid, name, id, 'startup'),
      onStatusChanged: (uid) => this.enqueueUID(uid),
    });
    const volumes = new VolumeManager({
      client,
      podsDir: join(this.dir, 'pods'),
      nodeName: this.o.nodeName,
      logger: this.log,
    });
    this.syncer = new PodSyncer({
      client,
      runtime: this.runtime,
      recorder,
      volumes,
      probes: this.probes,
      containerEnv: (pod, c, ctx) =>
        containerEnv(pod, c, {
          client,
          nodeName: this.o.nodeName,
          hostIP: this.nodeIP,
          podIP: ctx.podIP,
          podIPs: ctx.podIPs,
          services: this.services.store.list(),
          nodeAllocatable: this.reporter.allocatable,
          onWarning: (reason, message) => recorder.event(podRef(pod), 'Warning', reason, message),
        }),
      nodeName: this.o.nodeName,
      hostIP: this.nodeIP,
      podsDir: join(this.dir, 'pods'),
      logsDir: join(this.logDir, 'pods'),
      dns: { clusterDNS: this.podClusterDNS ?? this.o.clusterDNS, clusterDomain: this.o.clusterDomain, hostResolv },
      clusterDomain: this.o.clusterDomain,
      nodeMemoryBytes: meminfo().totalBytes,
      devices: this.devices,
      registryAuth: (image) => authFor(this.registries, image),
      podCgroups: this.runtime.isolated,
      podMaxPids: this.o.podMaxPids ?? -1,
      logger: this.log,
    });

    this.pods = new SharedIndexInformer(client, R.pods, {
      fieldSelector: `spec.nodeName=${this.o.nodeName}`,
      indexers: { uid: (p) => [p.metadata.uid] },
      logger: this.log,
    });
    this.logging = new NodeLogging(
      { ...this.o.logging, logDir: this.logDir, stateDir: this.dir, nodeName: this.o.nodeName },
      this.log,
    );
    this.logging.start(
      this.runtime,
      client,
      (ns, name) => this.pods.store.get(`${ns}/${name}`)?.metadata.labels,
      this.o.eventsClient ?? client,
    );
    this.runner = new ControllerRunner({
      name: 'agent-pods',
      workers: 4,
      reconcile: async (key) => {
        const pod = this.pods.store.get(key);
        if (!pod || this.stopped) return;
        const next = await this.syncer.sync(pod);
        return next !== undefined ? { requeueAfterMs: next } : undefined;
      },
      rateLimiter: new ItemExponentialFailureRateLimiter<string>(500, 30_000),
      logger: this.log,
    });
    this.pods.addEventHandler({
      add: (p) => this.runner.enqueue(keyOf(p)),
      update: (_o, n) => this.runner.enqueue(keyOf(n)),
      delete: (p) =>
        void this.syncer.cleanup(p.metadata.uid).catch((err) => this.log.warn({ err }, 'pod cleanup failed')),
    });
    this.services = new SharedIndexInformer(client, R.services, { logger: this.log });
    this.services.start();
    this.pods.start();
    await Promise.all([this.pods.waitForSync(), this.services.waitForSync()]);
  }

  /** The periodic work: runtime relist (PLEG), stats, image GC and eviction. */
  private startHousekeeping(imageGC: ImageGC): void {
    this.every(RELIST_MS, () => this.relist());
    this.every(STATS_MS, () => this.stats!.sample());
    this.every(STATS_MS, () => imageGC.observe());
    const pressures = () => (['memory', 'disk', 'pid'] as const).map((p) => this.eviction!.underPressure(p)).join();
    this.every(EVICTION_MS, async () => {
      const before = pressures();
      const evicted = await this.eviction!.check();
      if (evicted) this.log.warn({ pod: evicted }, 'evicted a pod under node pressure');
      // A pressure that came or went shows in the node's conditions at once.
      if (before !== pressures()) await this.reporter.reportStatus(true);
    });
    this.every(IMAGE_GC_MS, async () => void (await imageGC.collect()));
    void this.stats!.sample().catch(() => undefined);
  }

  private waitForPodCIDR(): void {
    if (this.networkReady) return;
    let tick = 0;
    const t = setInterval(() => {
      if (this.networkReady || this.stopped) return clearInterval(t);
      // While another device routes the range, look again every 5 s, not every 500 ms: each look
      // runs `ip route` synchronously, and a conflict lasts until someone removes that device.
      if (this.networkConflict && ++tick % 10 !== 0) return;
      void this.o.client
        .resource(R.nodes)
        .get(this.o.nodeName)
        .then((n) => this.setUpNetwork(n.spec?.podCIDR, n.spec?.podCIDRs))
        .catch(() => undefined);
    }, 500);
    t.unref?.();
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.stopped) return;
      running = true;
      fn()
        .catch((err) => this.log.debug({ err }, 'periodic task failed'))
        .finally(() => (running = false));
    }, ms);
    t.unref?.();
    this.timers.push(t);
  }

  private podByUID(uid: string): Stored<Pod> | undefined {
    return this.pods.store.byIndex('uid', uid)[0];
  }

  private enqueueUID(uid: string): void {
    const pod = this.podByUID(uid);
    if (pod) this.runner.enqueue(keyOf(pod));
  }

  private restartUnhealthy(
    recorder: EventRecorder,
    uid: string,
    name: string,
    id: string,
    kind: 'liveness' | 'startup',
  ): void {
    const pod = this.podByUID(uid);
    if (!pod) return;
    const ev = probeKillingEvent(kind, name);
    recorder.event(podRef(pod), ev.type, ev.reason, ev.message, `spec.containers{${name}}`);
    this.probes.removeContainer(uid, name);
    this.syncer.killing.add(id);
    const grace = pod.spec?.terminationGracePeriodSeconds ?? 30;
    void this.runtime
      .stopContainer(id, grace)
      .catch((err) => this.log.warn({ err }, 'stopping an unhealthy container failed'))
      .finally(() => this.enqueueUID(uid));
  }

  /** The kubelet's PLEG: look at the runtime every second and sync the pods whose containers changed. */
  private async relist(): Promise<void> {
    const sandboxes = await this.runtime.listPodSandboxes();
    const containers = await this.runtime.listContainers();
    const bySandbox = new Map<string, string[]>();
    for (const c of containers) {
      const l = bySandbox.get(c.podSandboxId) ?? [];
      l.push(`${c.id}:${c.state}`);
      bySandbox.set(c.podSandboxId, l);
    }
    const perPod = new Map<string, string[]>();
    for (const s of sandboxes) {
      const uid = s.labels?.[LABEL.podUID];
      if (!uid) continue;
      const l = perPod.get(uid) ?? [];
      l.push(`${s.id}:${s.state}`, ...(bySandbox.get(s.id) ?? []).sort());
      perPod.set(uid, l);
    }
    for (const [uid, parts] of perPod) {
      const fp = parts.join(',');
      if (this.fingerprints.get(uid) !== fp) {
        this.fingerprints.set(uid, fp);
        if (this.podByUID(uid)) this.enqueueUID(uid);
      }
      // Sandboxes of pods the API no longer has (deleted while the agent was away).
      if (!this.podByUID(uid) && this.pods.hasSynced()) {
        this.fingerprints.delete(uid);
        await this.syncer.cleanup(uid);
      }
    }
    for (const uid of this.fingerprints.keys()) if (!perPod.has(uid)) this.fingerprints.delete(uid);
  }

  /** What the agent's HTTPS server needs to find a pod's containers. */
  private locator(): PodLocator {
    const find = (namespace: string, name: string) => this.pods?.store.get(`${namespace}/${name}`);
    const runtime = () => this.runtime;
    return {
      get runtime() {
        return runtime();
      },
      container: async (namespace, pod, container) => {
        const p = find(namespace, pod);
        if (!p) return undefined;
        const view = await this.syncer.observe(p.metadata.uid);
        const [cur, prev] = view.containers.get(container) ?? [];
        return {
          current: cur ? { id: cur.id, logPath: cur.logPath, running: cur.state === 'CONTAINER_RUNNING' } : undefined,
          previous: prev ? { id: prev.id, logPath: prev.logPath } : undefined,
        };
      },
      sandbox: async (namespace, pod) => {
        const p = find(namespace, pod);
        if (!p) return undefined;
        return (await this.syncer.observe(p.metadata.uid)).sandbox?.id;
      },
    };
  }

  /** The kubelet's /var/log (pods/, containers/). */
  private get logDir(): string {
    return this.o.logging?.logDir ?? join(this.dir, 'logs');
  }

  async stop(): Promise<void> {
    await this.logging?.stop();
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.reporter?.stop();
    this.probes?.stop();
    await this.provisioner?.stop();
    await this.runner?.stop();
    await this.pods?.stop();
    await this.services?.stop();
    await this.dns?.stop();
    await this.podRoutes?.stop();
    // The rules stay (pods keep running and serving, as with k3s); `k8ts killall` removes them.
    await this.proxier?.stop();
    await this.lbAnnouncer?.stop();
    await this.netpol?.stop();
    this.servingRenewal?.stop();
    await this.server?.stop();
    await this.devices?.stop();
    await this.runtime?.close();
    await this.containerd?.stop();
  }
}

function podRef(pod: Pod) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: pod.metadata };
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
