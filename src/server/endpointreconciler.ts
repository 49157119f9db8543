// The `kubernetes` Service's endpoints with several API servers: upstream's lease endpoint
// reconciler. Each server keeps a Lease in kube-system naming its advertise address and renews
// it; every server writes the addresses of the unexpired Leases into the Endpoints and
// EndpointSlices of default/kubernetes. A server that dies stops renewing, and the others drop
// its address once its Lease has expired; a server that stops cleanly removes its own at once.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import type { EndpointSubset } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { R, type Client } from '../client/client.js';
import { isAlreadyExists, isConflict, isNotFound } from '../client/errors.js';

/** Labels of the Leases this reconciler reads (as upstream's apiserver identity Leases). */
export const APISERVER_IDENTITY_LABEL = 'apiserver.kubernetes.io/identity';
/** Where a Lease names its server's `address:port` (IPv6 in brackets). */
export const APISERVER_ENDPOINT_ANNOTATION = 'k8ts.io/apiserver-endpoint';
const NAMESPACE = 'kube-system';
const SERVICE = 'kubernetes';

export interface EndpointReconcilerOptions {
  client: Client;
  address: string;
  port: number;
  logger: Logger;
  /** Lease duration (upstream's master lease TTL: 15 s). */
  leaseDurationSeconds?: number;
  /** How often the Lease is renewed and the endpoints reconciled. */
  intervalMs?: number;
}

export interface ApiServerEndpoint {
  address: string;
  port: number;
}

const hostPort = (e: ApiServerEndpoint) =>
  e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;

export function parseHostPort(s: string): ApiServerEndpoint | undefined {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  return m ? { address: m[1], port: Number(m[2]) } : undefined;
}

/** The Lease's name: stable for one address and port, so a restarted server takes its Lease back. */
export function leaseNameFor(e: ApiServerEndpoint): string {
  return `apiserver-${createHash('sha256').update(hostPort(e)).digest('hex').slice(0, 16)}`;
}

/** When the Lease stops counting (renewTime + leaseDurationSeconds), in ms since the epoch. */
export function leaseExpiry(lease: Lease): number {
  const renewed = Date.parse(lease.spec?.renewTime ?? lease.spec?.acquireTime ?? '');
  return Number.isNaN(renewed) ? 0 : renewed + (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
}

/** Endpoints subsets: one per port, addresses sorted (equal content writes nothing). */
export function subsetsFor(live: ApiServerEndpoint[]): EndpointSubset[] {
  const byPort = new Map<number, string[]>();
  for (const e of live) byPort.set(e.port, [...(byPort.get(e.port) ?? []), e.address]);
  return [...byPort.entries()]
    .sort(([a], [b]) => a - b)
    .map(([port, addrs]) => ({
      addresses: [...new Set(addrs)].sort().map((ip) => ({ ip })),
      ports: [{ name: 'https', port, protocol: 'TCP' }],
    }));
}

const sliceName = (i: number, port: number) => (i === 0 ? SERVICE : `${SERVICE}-${port}`);

export class ApiServerEndpointReconciler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private readonly self: ApiServerEndpoint;
  private readonly leaseName: string;
  private readonly durationSeconds: number;

  constructor(private readonly opts: EndpointReconcilerOptions) {
    this.self = { address: opts.address, port: opts.port };
    this.leaseName = leaseNameFor(this.self);
    this.durationSeconds = opts.leaseDurationSeconds ?? 15;
  }

  /** Takes this server's Lease and writes the endpoints once, then keeps doing so. */
  async start(): Promise<void> {
    await this.tick();
    const interval = this.opts.intervalMs ?? Math.max(1000, (this.durationSeconds * 1000) / 3);
    this.timer = setInterval(() => {
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, interval);
    this.timer.unref();
  }

  /** Gives this server's Lease up and takes its address out of the endpoints. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    try {
      await this.leases().delete(this.leaseName);
    } catch (err) {
      if (!isNotFound(err)) this.opts.logger.warn({ err }, 'apiserver lease: release failed');
    }
    await this.reconcile().catch((err: unknown) =>
      this.opts.logger.warn({ err }, 'kubernetes endpoints: removing this server failed'),
    );
  }

  private async tick(): Promise<void> {
    try {
      await this.renew();
      await this.reconcile();
    } catch (err) {
      this.opts.logger.warn({ err }, 'kubernetes endpoints: reconcile failed');
    }
  }

  private leases() {
    return this.opts.client.resource(R.leases).namespace(NAMESPACE);
  }

  private async renew(): Promise<void> {
    const now = new Date().toISOString().replace(/Z$/, '000Z');
    const lease: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: this.leaseName,
        namespace: NAMESPACE,
        labels: { [APISERVER_IDENTITY_LABEL]: 'kube-apiserver', 'kubernetes.io/hostname': hostname().toLowerCase() },
        annotations: { [APISERVER_ENDPOINT_ANNOTATION]: hostPort(this.self) },
      },
      spec: { holderIdentity: this.leaseName, leaseDurationSeconds: this.durationSeconds, renewTime: now },
    };
    try {
      const current = await this.leases().get(this.leaseName);
      await this.leases().update({
        ...lease,
        metadata: { ...lease.metadata, resourceVersion: current.metadata.resourceVersion },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.leases().create({ ...lease, spec: { ...lease.spec, acquireTime: now } });
    }
  }

  /** The servers whose Leases have not expired; expired Leases are deleted (the last renewal wins a race). */
  private async liveServers(): Promise<ApiServerEndpoint[]> {
    const list = await this.leases().list({ labelSelector: `${APISERVER_IDENTITY_LABEL}=kube-apiserver` });
    const live: ApiServerEndpoint[] = [];
    const now = Date.now();
    for (const lease of list.items) {
      const endpoint = parseHostPort(lease.metadata.annotations?.[APISERVER_ENDPOINT_ANNOTATION] ?? '');
      if (!endpoint) continue;
      if (leaseExpiry(lease) > now) {
        live.push(endpoint);
        continue;
      }
      await this.leases()
        .delete(lease.metadata.name, { preconditions: { resourceVersion: lease.metadata.resourceVersion } })
        .catch((err: unknown) => {
          if (!isNotFound(err) && !isConflict(err)) throw err;
        });
    }
    return live;
  }

  private async reconcile(): Promise<void> {
    const subsets = subsetsFor(await this.liveServers());
    await this.writeEndpoints(subsets);
    await this.writeSlices(subsets);
  }

  private async writeEndpoints(subsets: EndpointSubset[]): Promise<void> {
    const endpoints = this.opts.client.resource(R.endpoints).namespace('default');
    for (;;) {
      try {
        const current = await endpoints.get(SERVICE).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
        if (!current)
          await endpoints.create({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: SERVICE }, subsets });
        else if (JSON.stringify(current.subsets ?? []) !== JSON.stringify(subsets))
          await endpoints.update({ ...current, subsets });
        return;
      } catch (err) {
        // Another server wrote it meanwhile: read again and compare.
        if (!isConflict(err) && !isAlreadyExists(err)) throw err;
      }
    }
  }

  /**
   * One EndpointSlice per port, as upstream's reconciler writes `kubernetes` (no managed-by label,
   * so the EndpointSlice controller leaves them alone); servers normally share one port, so one.
   */
  private async writeSlices(subsets: EndpointSubset[]): Promise<void> {
    const slices = this.opts.client.resource(R.endpointslices).namespace('default');
    const wanted = subsets.map((s, i): EndpointSlice => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: sliceName(i, s.ports![0].port), labels: { 'kubernetes.io/service-name': SERVICE } },
      addressType: s.addresses![0].ip.includes(':') ? 'IPv6' : 'IPv4',
      endpoints: s.addresses!.map((a) => ({ addresses: [a.ip], conditions: { ready: true } })),
      ports: s.ports!.map((p) => ({ name: p.name, port: p.port, protocol: p.protocol })),
    }));
    for (;;) {
      try {
        const existing = await slices.list({ labelSelector: `kubernetes.io/service-name=${SERVICE}` });
        const ours = existing.items.filter(
          (s) => !s.metadata.labels?.['endpointslice.kubernetes.io/managed-by'] && s.metadata.name.startsWith(SERVICE),
        );
        for (const slice of wanted) {
          const current = ours.find((s) => s.metadata.name === slice.metadata!.name);
          if (!current) await slices.create(slice);
          else if (
            JSON.stringify([current.endpoints, current.ports]) !== JSON.stringify([slice.endpoints, slice.ports])
          )
            await slices.update({ ...current, endpoints: slice.endpoints, ports: slice.ports });
        }
        // With no server alive (the last one stopping) `kubernetes` stays, empty, as upstream's.
        for (const stale of ours) {
          if (wanted.some((s) => s.metadata!.name === stale.metadata.name)) continue;
          if (stale.metadata.name === SERVICE) {
            if (stale.endpoints?.length) await slices.update({ ...stale, endpoints: [] });
          } else
            await slices.delete(stale.metadata.name).catch((err: unknown) => {
              if (!isNotFound(err)) throw err;
            });
        }
        return;
      } catch (err) {
        if (!isConflict(err) && !isAlreadyExists(err)) throw err;
      }
    }
  }
}
