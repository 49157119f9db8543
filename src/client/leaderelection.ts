// Leader election on coordination.k8s.io/v1 Leases, as client-go's leaderelection: candidates
// try to acquire the lease every retryPeriod; the holder renews it, and gives up leading if it
// cannot renew within renewDeadline; others take it over once it has not changed for
// leaseDuration (measured on their own clock, so clock skew does not matter). Writes carry the
// lease's resourceVersion, so two candidates can never both win one round.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { R, type Client, type ResourceClient } from './client.js';
import { isConflict, isNotFound, isAlreadyExists } from './errors.js';
import { microTime } from '../machinery/time.js';

export interface LeaderElectionConfig {
  client: Client;
  namespace: string;
  name: string;
  identity: string;
  /** Defaults as kube-controller-manager: 15 s / 10 s / 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Give the lease up when stopping (default true). */
  releaseOnCancel?: boolean;
  /** Called when this candidate starts leading; `signal` aborts when it stops leading. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  onStoppedLeading?(): void | Promise<void>;
  onNewLeader?(identity: string): void;
  logger?: Logger;
}

export class LeaderElector {
  private readonly leases: ResourceClient;
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed?: any;
  private observedAt = 0;
  private leading = false;
  private stopped = false;
  private wake?: () => void;
  private loop?: Promise<void>;
  private leadAbort?: AbortController;
  private reportedLeader = '';

  constructor(private readonly cfg: LeaderElectionConfig) {
    this.leases = cfg.client.resource(R.leases).namespace(cfg.namespace);
    this.leaseDurationMs = cfg.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = cfg.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = cfg.retryPeriodMs ?? 2_000;
    if (this.leaseDurationMs <= this.renewDeadlineMs)
      throw new Error('leaseDuration must be greater than renewDeadline');
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder as last observed ('' when none). */
  get leader(): string {
    return this.observed?.spec?.holderIdentity ?? '';
  }

  /** Start campaigning (returns at once; stop() ends it). */
  start(): void {
    if (!this.loop) this.loop = this.run();
  }

  /** Stop leading (calling onStoppedLeading) and release the lease. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  private jitter(ms: number): number {
    return ms * (1 + Math.random() * 0.2);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      // Acquire.
      while (!this.stopped && !(await this.tryAcquireOrRenew())) await this.sleep(this.jitter(this.retryPeriodMs));
      if (this.stopped) break;
      this.leading = true;
      this.leadAbort = new AbortController();
      this.cfg.logger?.info(
        { lease: `${this.cfg.namespace}/${this.cfg.name}`, identity: this.cfg.identity },
        'successfully acquired lease',
      );
      const signal = this.leadAbort.signal;
      void Promise.resolve()
        .then(() => this.cfg.onStartedLeading(signal))
        .catch((err) => this.cfg.logger?.error({ err }, 'onStartedLeading failed'));
      // Renew until we can't within renewDeadline, or we stop.
      let lastRenew = Date.now();
      while (!this.stopped) {
        await this.sleep(this.retryPeriodMs);
        if (this.stopped) break;
        if (await this.tryAcquireOrRenew()) {
          lastRenew = Date.now();
          continue;
        }
        if (
          this.observed &&
          this.observed.spec?.holderIdentity !== this.cfg.identity &&
          this.observed.spec?.holderIdentity
        )
          break; // someone else holds it
        if (Date.now() - lastRenew >= this.renewDeadlineMs) break;
      }
      this.leading = false;
      this.leadAbort.abort();
      if (this.stopped && this.cfg.releaseOnCancel !== false) await this.release();
      this.cfg.logger?.info(
        { lease: `${this.cfg.namespace}/${this.cfg.name}`, identity: this.cfg.identity },
        'stopped leading',
      );
      try {
        await this.cfg.onStoppedLeading?.();
      } catch (err) {
        this.cfg.logger?.error({ err }, 'onStoppedLeading failed');
      }
    }
  }

  private observe(lease: any): void {
    const prev = this.observed?.spec;
    const cur = lease?.spec;
    if (
      !prev ||
      prev.holderIdentity !== cur?.holderIdentity ||
      prev.renewTime !== cur?.renewTime ||
      prev.leaseTransitions !== cur?.leaseTransitions
    ) {
      this.observedAt = Date.now();
    }
    this.observed = lease;
    const holder = cur?.holderIdentity ?? '';
    if (holder && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      try {
        this.cfg.onNewLeader?.(holder);
      } catch {
        /* ignore */
      }
    }
  }

  /** One round: create the lease, renew ours, or take over an expired one. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = Date.now();
    const durationSeconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    let lease: any;
    try {
      lease = await this.leases.get(this.cfg.name);
    } catch (err) {
      if (!isNotFound(err)) {
        this.cfg.logger?.debug({ err }, 'error retrieving lease');
        return false;
      }
      try {
        const created = await this.leases.create({
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.cfg.name, namespace: this.cfg.namespace },
          spec: {
            holderIdentity: this.cfg.identity,
            leaseDurationSeconds: durationSeconds,
            acquireTime: microTime(now),
            renewTime: microTime(now),
            leaseTransitions: 0,
          },
        });
        this.observe(created);
        return true;
      } catch (e) {
        if (!isAlreadyExists(e)) this.cfg.logger?.debug({ err: e }, 'error creating lease');
        return false;
      }
    }
    this.observe(lease);
    const spec = lease.spec ?? {};
    const holder: string = spec.holderIdentity ?? '';
    const mine = holder === this.cfg.identity;
    const validMs = (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (holder && !mine && this.observedAt + validMs > Date.now()) return false; // held by another, not expired
    const next = structuredClone(lease);
    next.spec = {
      ...spec,
      holderIdentity: this.cfg.identity,
      leaseDurationSeconds: durationSeconds,
      renewTime: microTime(now),
      acquireTime: mine ? (spec.acquireTime ?? microTime(now)) : microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
    };
    try {
      const updated = await this.leases.update(next);
      this.observe(updated);
      return true;
    } catch (err) {
      if (!isConflict(err)) this.cfg.logger?.debug({ err }, 'error updating lease');
      return false;
    }
  }

  /** Hand the lease back: holder cleared, 1 s duration, so a standby takes over at once. */
  private async release(): Promise<void> {
    try {
      const lease = await this.leases.get(this.cfg.name);
      if (lease.spec?.holderIdentity !== this.cfg.identity) return;
      const now = microTime();
      const next = structuredClone(lease);
      next.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now };
      await this.leases.update(next);
    } catch (err) {
      this.cfg.logger?.debug({ err }, 'failed to release lease');
    }
  }
}

/** Where a component's Lease lives and how it is held (defaults as upstream: 15 s / 10 s / 2 s). */
export interface LeaseOptions {
  namespace?: string;
  name?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface LeaderRunnerOptions {
  client: Client;
  logger: Logger;
  /** false: run without a lease (tests, benchmarks, a single instance by design). */
  leaderElection?: false | LeaseOptions;
  /** The Lease's name when leaderElection doesn't give one (kube-controller-manager, kube-scheduler). */
  defaultLeaseName: string;
  /** Start the component's work; called when leadership is won. */
  start(): Promise<void>;
  /** Stop it; called when leadership is lost and on stop(). */
  stop(): Promise<void>;
}

/**
 * Runs a component only while holding its kube-system Lease, so two instances never act at once;
 * a standby takes over within the lease duration when the leader dies. Starting and stopping
 * happen one after the other, never interleaved.
 */
export class LeaderRunner {
  private elector?: LeaderElector;
  private transitions: Promise<void> = Promise.resolve();
  private running = false;
  readonly identity: string;

  constructor(private readonly opts: LeaderRunnerOptions) {
    const le = opts.leaderElection;
    this.identity = (le && le.identity) || `${hostname()}_${randomUUID()}`;
  }

  get isLeader(): boolean {
    return this.opts.leaderElection === false ? this.running : !!this.elector?.isLeader;
  }

  private begin(): void {
    this.transitions = this.transitions
      .then(async () => {
        this.running = true;
        await this.opts.start();
      })
      .catch((err) => this.opts.logger.error({ err }, 'failed to start'));
  }

  private end(): Promise<void> {
    this.transitions = this.transitions
      .then(async () => {
        if (!this.running) return;
        this.running = false;
        await this.opts.stop();
      })
      .catch((err) => this.opts.logger.error({ err }, 'failed to stop'));
    return this.transitions;
  }

  start(): void {
    const le = this.opts.leaderElection;
    if (le === false) return this.begin();
    this.elector = new LeaderElector({
      client: this.opts.client,
      namespace: le?.namespace ?? 'kube-system',
      name: le?.name ?? this.opts.defaultLeaseName,
      identity: this.identity,
      leaseDurationMs: le?.leaseDurationMs,
      renewDeadlineMs: le?.renewDeadlineMs,
      retryPeriodMs: le?.retryPeriodMs,
      logger: this.opts.logger,
      onStartedLeading: () => this.begin(),
      onStoppedLeading: () => this.end(),
    });
    this.elector.start();
  }

  /** Stop working and give the lease back. */
  async stop(): Promise<void> {
    if (this.elector) await this.elector.stop();
    await this.end();
  }
}
