// The Available condition of every APIService, as kube-aggregator's two availability
// controllers keep it: Local ones are always available; a remote one needs its Service (with
// the port it names), EndpointSlices with a ready endpoint on that port (ClusterIP Services),
// and a successful GET of its group version's discovery document. Checks run when the
// APIService, its Service or its EndpointSlices change, every 30 seconds, and again soon after
// a failure; the status is written only when the condition changed.
import type { Logger } from 'pino';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { APIService, APIServiceCondition } from '../../api/apiregistration/v1/index.js';
import { GROUP } from '../../api/apiregistration/v1/index.js';
import type { KeyPair } from '../../machinery/pki.js';
import type { Store } from '../store.js';
import type { StoreLookup } from '../admission/webhook/service.js';
import { systemWriteContext } from '../bootstrap.js';
import { setCondition } from '../crd/controller.js';
import { ApiError } from '../../machinery/errors.js';
import { type FetchResult, type RemoteAPIService, fetchRemote, hostPort, locate, remoteOf } from './remote.js';

/** The identity of the check (upstream: system:kube-aggregator in system:masters, always allowed). */
const CHECK_USER = { name: 'system:kube-aggregator', groups: ['system:masters'] };
const CHECK_TIMEOUT_MS = 5_000;
const RESYNC_MS = 30_000;
const MAX_BACKOFF_MS = 30_000;

type Condition = Omit<APIServiceCondition, 'type' | 'lastTransitionTime'>;

export interface AvailabilityDeps {
  stores: StoreLookup;
  client: KeyPair;
  log: Logger;
  /** The discovery document a passed check read, or undefined when the check failed. */
  discovered(name: string, doc: FetchResult | undefined): void;
}

const LOCAL: Condition = { status: 'True', reason: 'Local', message: 'Local APIServices are always available' };

/** The state of a Service and its EndpointSlices as the remote controller judges them; undefined: fine so far. */
export function serviceCondition(r: RemoteAPIService, stores: StoreLookup): Condition | undefined {
  const svc = stores('', 'services')?.tryGet(r.namespace, r.service)?.obj as Service | undefined;
  const where = `service/${r.service} in ${JSON.stringify(r.namespace)}`;
  if (!svc) return { status: 'False', reason: 'ServiceNotFound', message: `${where} is not present` };
  if ((svc.spec?.type ?? 'ClusterIP') !== 'ClusterIP') return undefined;
  const port = (svc.spec?.ports ?? []).find((p) => p.port === r.port);
  if (!port)
    return { status: 'False', reason: 'ServicePortError', message: `${where} is not listening on port ${r.port}` };
  const portName = port.name ?? '';
  const sliceStore = stores('discovery.k8s.io', 'endpointslices');
  const slices = (sliceStore?.cache.list(sliceStore.keyPrefix(r.namespace)) ?? [])
    .map((s) => s.obj as EndpointSlice)
    .filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === r.service);
  if (!slices.length)
    return {
      status: 'False',
      reason: 'EndpointsNotFound',
      message: `cannot find endpointslices for ${where}`,
    };
  const ready = slices.some(
    (s) =>
      (s.endpoints ?? []).some((e) => e.conditions?.ready !== false) &&
      (s.ports ?? []).some((p) => (p.name ?? '') === portName && p.port !== undefined),
  );
  if (!ready)
    return {
      status: 'False',
      reason: 'MissingEndpoints',
      message: `endpointslices for ${where} have no addresses with port name ${JSON.stringify(portName)}`,
    };
  return undefined;
}

export class AvailableConditionController {
  private readonly pending = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly failures = new Map<string, number>();
  private draining?: Promise<void>;
  private readonly unwatch: (() => void)[] = [];
  private resync?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly deps: AvailabilityDeps) {}

  private get apiServices(): Store | undefined {
    return this.deps.stores(GROUP, 'apiservices');
  }

  start(): void {
    const apiServices = this.apiServices;
    if (!apiServices) return;
    const follow = <T>(store: Store | undefined, names: (obj: T) => string[]) => {
      if (!store) return;
      const cache = store.cache;
      this.unwatch.push(
        cache.watch(cache.revision, { onEvent: (ev) => names(ev.cur.obj as T).forEach((n) => this.enqueue(n)) }),
      );
    };
    // A Service or EndpointSlice change concerns the APIServices that name the Service: which
    // those are is kept by Service (upstream's cache), as Services and slices change far more often.
    let byService = new Map<string, string[]>();
    const index = () => {
      byService = new Map();
      for (const o of this.list()) {
        const ref = o.spec?.service;
        if (!ref) continue;
        const key = `${ref.namespace}/${ref.name}`;
        byService.set(key, [...(byService.get(key) ?? []), o.metadata.name ?? '']);
      }
    };
    index();
    follow(apiServices, (o: APIService) => {
      index();
      return [o.metadata.name ?? ''];
    });
    const forService = (namespace: string | undefined, name: string | undefined) =>
      byService.get(`${namespace}/${name}`) ?? [];
    follow(this.deps.stores('', 'services'), (s: Service) => forService(s.metadata?.namespace, s.metadata?.name));
    follow(this.deps.stores('discovery.k8s.io', 'endpointslices'), (s: EndpointSlice) =>
      forService(s.metadata?.namespace, s.metadata?.labels?.['kubernetes.io/service-name']),
    );
    for (const o of this.list()) this.enqueue(o.metadata.name ?? '');
    this.resync = setInterval(() => {
      for (const o of this.list()) if (o.spec?.service) this.enqueue(o.metadata.name ?? '');
    }, RESYNC_MS);
    this.resync.unref();
  }

  stop(): void {
    this.stopped = true;
    for (const u of this.unwatch) u();
    clearInterval(this.resync);
    for (const t of this.timers.values()) clearTimeout(t);
  }

  private list(): APIService[] {
    return (this.apiServices?.cache.list() ?? []).map((s) => s.obj as APIService);
  }

  /** Check `name` (now, or after `delayMs`). */
  enqueue(name: string, delayMs = 0): void {
    if (this.stopped || !name) return;
    if (delayMs > 0) {
      if (this.timers.has(name)) return;
      const t = setTimeout(() => {
        this.timers.delete(name);
        this.enqueue(name);
      }, delayMs);
      t.unref();
      this.timers.set(name, t);
      return;
    }
    this.pending.add(name);
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  /** Resolves once nothing is queued (for tests and start-up). */
  async settled(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    while (this.pending.size && !this.stopped) {
      const names = [...this.pending];
      this.pending.clear();
      // Checks of different APIServices run side by side: one dead backend delays no other.
      await Promise.all(names.map((n) => this.syncOne(n)));
    }
  }

  private async syncOne(name: string): Promise<void> {
    try {
      const failed = await this.sync(name);
      if (!failed) this.failures.delete(name);
      else {
        // Exponential from 5 ms (upstream's rate limiter), at most every 30 s.
        const n = (this.failures.get(name) ?? 0) + 1;
        this.failures.set(name, n);
        this.enqueue(name, Math.min(MAX_BACKOFF_MS, 5 * 2 ** n));
      }
    } catch (err) {
      this.deps.log.error({ err, apiservice: name }, 'checking APIService availability failed; retrying');
      this.enqueue(name, 1000);
    }
  }

  /** Returns true when the check failed (to be retried soon). */
  private async sync(name: string): Promise<boolean> {
    const current = this.apiServices?.tryGet(undefined, name)?.obj as APIService | undefined;
    if (!current) return false;
    const remote = remoteOf(current);
    if (!remote) {
      await this.write(current, LOCAL);
      return false;
    }
    const cond = serviceCondition(remote, this.deps.stores) ?? (await this.discoveryCheck(remote));
    await this.write(current, cond);
    if (cond.status !== 'True') this.deps.discovered(name, undefined);
    return cond.status !== 'True';
  }

  private async discoveryCheck(r: RemoteAPIService): Promise<Condition> {
    const path = r.name === 'v1.' ? `/api/${r.version}` : `/apis/${r.group}/${r.version}`;
    let error: string;
    try {
      const addr = locate(r, this.deps.stores);
      const url = `https://${hostPort(addr)}${path}`;
      try {
        const got = await fetchRemote(r, addr, this.deps.client, path, CHECK_USER, CHECK_TIMEOUT_MS);
        if (got.status >= 200 && got.status < 300) {
          this.deps.discovered(r.name, got);
          return { status: 'True', reason: 'Passed', message: 'all checks passed' };
        }
        if (got.status >= 300 && got.status < 400)
          return { status: 'True', reason: 'Passed', message: 'all checks passed' };
        error = `bad status from ${url}: ${got.status}`;
      } catch (err) {
        error = `failing or missing response from ${url}: ${(err as Error).message}`;
      }
    } catch (err) {
      error = (err as Error).message;
    }
    return { status: 'False', reason: 'FailedDiscoveryCheck', message: error };
  }

  private async write(current: APIService, cond: Condition): Promise<void> {
    const old = (current.status?.conditions ?? []).find((c) => c.type === 'Available');
    if (old && old.status === cond.status && old.reason === cond.reason && old.message === cond.message) return;
    if (!old || old.status !== cond.status)
      this.deps.log.info(
        { apiservice: current.metadata.name, status: cond.status, reason: cond.reason, message: cond.message },
        'changing APIService availability',
      );
    try {
      await this.apiServices!.update(
        undefined,
        current.metadata.name ?? '',
        (cur) => {
          const next = structuredClone(cur.obj) as APIService;
          next.status ??= {};
          next.status.conditions = setCondition(next.status.conditions ?? [], { type: 'Available', ...cond });
          return next;
        },
        { ...systemWriteContext('kube-apiserver'), subresource: 'status' },
      );
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return;
      throw err;
    }
  }
}
