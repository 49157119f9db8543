// The cluster DNS a node agent runs: informers over the cluster (ClusterWatch), the Corefile
// from the kube-system/coredns ConfigMap (a default one until it exists, rebuilt whenever it
// changes; each line it cannot use is logged and reported as a Warning event on the ConfigMap),
// the DNS listener, and an HTTP listener with /metrics (CoreDNS's names), /health and /ready.
// When listening, the node is annotated with the listener's address; the server's kube-dns
// controller publishes those addresses as the endpoints of the kube-dns Service.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { ConfigMap } from 'kubernetes-types/core/v1.js';
import { R, spec, type Client } from '../client/client.js';
import { EventRecorder } from '../client/events.js';
import { isConflict } from '../client/errors.js';
import { SharedIndexInformer } from '../client/informer.js';
import { buildConfig, wireCacheFor, type BuiltConfig } from './build.js';
import { defaultCorefile, parseCorefile } from './corefile.js';
import { DnsServer, type HandlerRef } from './server.js';
import { DnsMetrics } from './plugins.js';
import { ZoneTransfer } from './transfer.js';
import { ClusterWatch } from './view.js';

export const COREFILE_CONFIGMAP = { namespace: 'kube-system', name: 'coredns' };
/** The Node annotation naming the address a node's DNS listener answers on. */
export const DNS_LISTENER_ANNOTATION = 'k8ts.io/dns-listener';
export const METRICS_PORT = 9153;

/**
 * The loopback address of a node's DNS listener for host-network pods (the process runtime's):
 * 127.64.0.0–127.191.255.255 by a hash of `name` (the data dir's host object name), so clusters on
 * one host never share it, clear of 127.0.0.0/16 (127.0.0.1, systemd-resolved's 127.0.0.53,
 * Debian's 127.0.1.1). The whole of 127.0.0.0/8 is local on Linux: nothing needs adding.
 */
export function loopbackListenerAddress(name: string): string {
  const h = createHash('sha256').update(name).digest();
  return `127.${64 + (h[0] % 128)}.${h[1]}.${1 + (h[2] % 254)}`;
}
const CONFIGMAPS = spec<ConfigMap>(R.configmaps);

export interface ClusterDNSOptions {
  client: Client;
  nodeName: string;
  clusterDomain: string;
  /** The address to answer on (the node's pod-bridge gateway) and port (53). */
  address: string;
  port: number;
  /** The host's /etc/resolv.conf text (the upstreams of `forward . /etc/resolv.conf`). */
  hostResolvConf: string;
  hostSearch: string[];
  /** Publish the listener on the Node (off for tests running several in one process). */
  announce?: boolean;
  logger: Logger;
}

export class ClusterDNS {
  private watch?: ClusterWatch;
  private configMaps?: SharedIndexInformer<ConfigMap>;
  private server?: DnsServer;
  private http?: Server;
  private readonly handler: HandlerRef = {
    current: () => Promise.resolve({ rcode: 2, answers: [], authorities: [], additionals: [], authoritative: false }),
  };
  private built?: BuiltConfig;
  private lastCorefile?: string;
  readonly registry = new Registry();
  private readonly metrics = new DnsMetrics(this.registry);
  private readonly recorder: EventRecorder;
  private log: Logger;
  private ready = false;
  private reannounce?: NodeJS.Timeout;

  constructor(private readonly o: ClusterDNSOptions) {
    this.log = o.logger.child({ component: 'dns' });
    this.recorder = new EventRecorder(o.client, { component: 'k8ts-dns', host: o.nodeName }, this.log);
  }

  get port(): number {
    return this.server?.port ?? 0;
  }

  async start(): Promise<void> {
    this.configMaps = new SharedIndexInformer(this.o.client, CONFIGMAPS, {
      namespace: COREFILE_CONFIGMAP.namespace,
      fieldSelector: `metadata.name=${COREFILE_CONFIGMAP.name}`,
    });
    const reload = () => this.configure();
    this.configMaps.addEventHandler({ add: reload, update: reload, delete: reload });
    this.configMaps.start();
    await this.configMaps.waitForSync(60_000);
    this.configure();
    this.server = new DnsServer({
      address: this.o.address,
      port: this.o.port,
      handler: this.handler,
      transfer: new ZoneTransfer(
        () => this.built?.kubernetes,
        () => this.built?.transferTo ?? [],
      ),
      logger: this.log,
    });
    await this.server.start();
    await this.startHttp();
    this.ready = true;
    if (this.o.announce !== false) {
      await this.announce(this.o.address);
      this.reannounce = setInterval(() => void this.announce(this.o.address), 15_000);
      this.reannounce.unref();
    }
    this.log.info({ address: this.o.address, port: this.server.port }, 'cluster DNS listening');
  }

  /** (Re)builds the chain from the ConfigMap's Corefile, or the default one. */
  private configure(): void {
    const cm = this.configMaps?.store.getByName(COREFILE_CONFIGMAP.namespace, COREFILE_CONFIGMAP.name);
    const text = cm?.data?.Corefile ?? defaultCorefile(this.o.clusterDomain);
    if (text === this.lastCorefile) return;
    this.lastCorefile = text;
    const { blocks, problems } = parseCorefile(text);
    const needsPods = blocks.some((b) => b.autopath || b.kubernetes?.pods === 'verified');
    void this.ensureWatch(needsPods).then(() => {
      const built = buildConfig(blocks, {
        view: this.watch!,
        logger: this.log,
        metrics: this.metrics,
        resolvConf: this.o.hostResolvConf,
        ownAddresses: [this.o.address],
        hostSearch: this.o.hostSearch,
      });
      const all = [...problems.map((p) => `line ${p.line}: ${p.message}`), ...built.problems];
      for (const p of all)
        this.log.warn({ configmap: `${COREFILE_CONFIGMAP.namespace}/${COREFILE_CONFIGMAP.name}` }, `Corefile: ${p}`);
      if (cm && all.length)
        this.recorder.event(
          { apiVersion: 'v1', kind: 'ConfigMap', metadata: cm.metadata },
          'Warning',
          'CorefileInvalid',
          `Corefile of node ${this.o.nodeName}: ${all.join('; ')}`.slice(0, 1024),
        );
      const old = this.built;
      const watch = this.watch!;
      this.built = built;
      this.handler.current = built.handler;
      this.handler.wire = wireCacheFor(built, () => watch.generation);
      old?.close();
      this.log.info({ source: cm ? 'configmap' : 'default', problems: all.length }, 'Corefile loaded');
    });
  }

  /** The informers, started once (again with pods when a Corefile starts needing them). */
  private async ensureWatch(needsPods: boolean): Promise<void> {
    if (this.watch && (!needsPods || this.watch.pods)) return;
    const old = this.watch;
    const w = new ClusterWatch(this.o.client, { watchPods: needsPods });
    await w.start();
    this.watch = w;
    await old?.stop();
  }

  private async startHttp(): Promise<void> {
    this.http = createServer((req, res) => {
      if (req.url === '/metrics') {
        void this.registry.metrics().then((body) => {
          res.writeHead(200, { 'content-type': this.registry.contentType });
          res.end(body);
        });
      } else if (req.url === '/health' || req.url === '/ready') {
        const ok = this.ready && !!this.built;
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(ok ? 'OK' : 'not ready');
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => {
      this.http!.once('error', (err) => {
        this.log.warn({ err }, `cluster DNS: no metrics listener on ${this.o.address}:${METRICS_PORT}`);
        resolve();
      });
      this.http!.listen(this.o.port === 0 ? 0 : METRICS_PORT, this.o.address, () => resolve());
    });
  }

  /**
   * Annotates this node with the listener address (or removes it). The node's status writer
   * updates the same object, so a conflict is retried; while serving, the annotation is checked
   * again now and then (an update from an older copy of the node may have dropped it).
   */
  private async announce(address: string | null): Promise<void> {
    const nodes = this.o.client.resource(R.nodes);
    for (let attempt = 0; ; attempt++) {
      try {
        const node = await nodes.get(this.o.nodeName);
        if ((node.metadata?.annotations?.[DNS_LISTENER_ANNOTATION] ?? null) === address) return;
        await nodes.patch(this.o.nodeName, 'merge', {
          metadata: { annotations: { [DNS_LISTENER_ANNOTATION]: address } },
        });
        return;
      } catch (err) {
        if (!isConflict(err) || attempt >= 20) {
          this.log.warn({ err }, 'could not publish the DNS listener on the node');
          return;
        }
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  }

  async stop(): Promise<void> {
    this.ready = false;
    if (this.reannounce) clearInterval(this.reannounce);
    if (this.o.announce !== false) await this.announce(null);
    await this.server?.stop();
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    this.built?.close();
    await this.configMaps?.stop();
    await this.watch?.stop();
  }
}
