// The service proxy of one node: shared informers over Services and EndpointSlices feed the model
// (model.ts's ModelTracker, which recomputes only the Services an event touched); a change
// schedules a sync, which hands the whole model to the mode's backend
// (nftables, iptables or userspace). Syncs never overlap and coalesce: changes arriving during a
// sync are taken by the next one. After each sync, the health check ports of Services with
// externalTrafficPolicy Local follow (healthcheck.ts), and UDP conntrack entries that would keep sending
// datagrams to endpoints that went away (or to the reject of a port that had none) are flushed.
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { R, spec, type Client } from '../client/client.js';
import { SharedInformerFactory } from '../client/informer.js';
import { ModelTracker, type Scheduler, type ServicePort } from './model.js';
import { ServiceHealthServer } from './healthcheck.js';

export const SERVICES = spec<Service>(R.services);
export const ENDPOINT_SLICES = spec<EndpointSlice>({
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  namespaced: true,
  kind: 'EndpointSlice',
});

/** What a proxy mode does with the model. */
export interface ProxyBackend {
  readonly mode: string;
  /** Makes the rules match `ports` (the first call replaces whatever an earlier run left). */
  sync(ports: ServicePort[]): Promise<void>;
  /** Removes everything this backend added. */
  cleanup(): Promise<void>;
  /** Lets go of what lives only in this process (the userspace proxy's listeners); rules stay. */
  stop?(): Promise<void>;
}

export interface ProxierOptions {
  client: Client;
  nodeName: string;
  backend: ProxyBackend;
  defaultScheduler: Scheduler;
  logger: Logger;
  /** Run a command (conntrack); replaceable for tests. */
  run?: (cmd: string, args: string[]) => Promise<number>;
  /** Called after each sync with how long it took (benchmarks, metrics). */
  onSynced?: (ms: number, ports: ServicePort[]) => void;
}

const runCommand = (cmd: string, args: string[]) =>
  new Promise<number>((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.once('error', () => resolve(127));
    child.once('exit', (code) => resolve(code ?? 1));
  });

/** conntrack -D invocations that clear UDP flows made stale by going from `before` to `after`. */
export function staleUDPFlows(before: ServicePort[], after: ServicePort[]): string[][] {
  const out: string[][] = [];
  const prev = new Map(before.map((p) => [`${p.key}/${p.protocol}`, p]));
  for (const now of after) {
    if (now.protocol !== 'UDP') continue;
    const old = prev.get(`${now.key}/${now.protocol}`);
    const addresses = [...now.clusterIPs, ...now.externalIPs, ...now.loadBalancerIPs];
    const nowIPs = new Set(now.allEndpoints.map((e) => e.ip));
    if (old && old.allEndpoints.length === 0 && now.allEndpoints.length > 0) {
      // The port rejected until now; a client's flow may be remembered as rejected.
      for (const a of addresses) out.push(['-D', '-p', 'udp', '--orig-dst', a, '--orig-port-dst', String(now.port)]);
      if (now.nodePort) out.push(['-D', '-p', 'udp', '--orig-port-dst', String(now.nodePort)]);
    }
    for (const gone of old?.allEndpoints ?? []) {
      if (nowIPs.has(gone.ip)) continue;
      for (const a of addresses) out.push(['-D', '-p', 'udp', '--orig-dst', a, '--dst-nat', gone.ip]);
      if (now.nodePort) out.push(['-D', '-p', 'udp', '--orig-port-dst', String(now.nodePort), '--dst-nat', gone.ip]);
    }
  }
  // A UDP Service deleted: its flows go to endpoints no longer served.
  const nowKeys = new Set(after.map((p) => `${p.key}/${p.protocol}`));
  for (const old of before) {
    if (old.protocol !== 'UDP' || nowKeys.has(`${old.key}/${old.protocol}`)) continue;
    for (const a of old.clusterIPs) out.push(['-D', '-p', 'udp', '--orig-dst', a]);
  }
  return out;
}

export class Proxier {
  private readonly factory: SharedInformerFactory;
  private readonly log: Logger;
  private readonly run: (cmd: string, args: string[]) => Promise<number>;
  private current: ServicePort[] = [];
  private syncing?: Promise<void>;
  private dirty = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private readonly model: ModelTracker;
  private readonly health: ServiceHealthServer;

  constructor(private o: ProxierOptions) {
    this.factory = new SharedInformerFactory(o.client, { logger: o.logger });
    this.model = new ModelTracker({ nodeName: o.nodeName, defaultScheduler: o.defaultScheduler });
    this.log = o.logger.child({ component: 'service-proxy', mode: o.backend.mode });
    this.run = o.run ?? runCommand;
    this.health = new ServiceHealthServer(this.log);
  }

  async start(): Promise<void> {
    const kick = () => this.requestSync();
    // Each event updates the model of its one Service; the sync it schedules recomputes only those.
    const m = this.model;
    this.factory.forResource(SERVICES).addEventHandler({
      add: (s) => (m.setService(s), kick()),
      update: (_, s) => (m.setService(s), kick()),
      delete: (s) => (m.deleteService(s), kick()),
    });
    this.factory.forResource(ENDPOINT_SLICES).addEventHandler({
      add: (s) => (m.setSlice(s), kick()),
      update: (_, s) => (m.setSlice(s), kick()),
      delete: (s) => (m.deleteSlice(s), kick()),
    });
    this.factory.start();
    await this.factory.waitForCacheSync();
    await this.syncNow();
    // A periodic sync repairs rules someone else removed meanwhile (the backend decides what a resync does).
    this.timer = setInterval(kick, 60_000);
    this.timer.unref?.();
    this.log.info({ ports: this.current.length }, 'service proxy running');
  }

  /** The model the last sync programmed. */
  get ports(): ServicePort[] {
    return this.current;
  }

  requestSync(): void {
    // Not before both caches are full (as kube-proxy's isInitialized): Services without their
    // slices yet would be programmed as having no endpoints, and connections refused meanwhile.
    const f = this.factory;
    if (this.stopped || !f.forResource(SERVICES).hasSynced() || !f.forResource(ENDPOINT_SLICES).hasSynced()) return;
    if (this.syncing) {
      this.dirty = true;
      return;
    }
    this.syncing = this.loop().finally(() => (this.syncing = undefined));
  }

  /** Syncs now (after any running sync) and resolves when the rules are programmed. */
  async syncNow(): Promise<void> {
    while (this.syncing) await this.syncing;
    this.syncing = this.loop().finally(() => (this.syncing = undefined));
    await this.syncing;
  }

  private async loop(): Promise<void> {
    do {
      this.dirty = false;
      await this.syncOnce();
    } while (this.dirty && !this.stopped);
  }

  private async syncOnce(): Promise<void> {
    const started = performance.now();
    const ports = this.model.ports();
    try {
      await this.o.backend.sync(ports);
    } catch (err) {
      this.log.error({ err }, 'programming service rules failed; retrying');
      setTimeout(() => this.requestSync(), 1_000).unref?.();
      return;
    }
    this.health.sync(ports);
    const stale = staleUDPFlows(this.current, ports);
    this.current = ports;
    for (const args of stale) await this.run('conntrack', args);
    const ms = performance.now() - started;
    this.log.debug({ ports: ports.length, ms }, 'service rules synced');
    this.o.onSynced?.(ms, ports);
  }

  /** Stops watching; `cleanup` also removes the rules (a proxy turned off, not a restart). */
  async stop(cleanup = false): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.syncing?.catch(() => undefined);
    await this.factory.shutdown();
    this.health.close();
    if (cleanup) await this.o.backend.cleanup();
    else await this.o.backend.stop?.();
  }
}
