// Runs the scheduler over one client (in-process inside `k8ts server`, HTTPS for `k8ts
// scheduler`) while holding the kube-system/kube-scheduler Lease, so two schedulers never bind
// at once: a standby waits and takes over within the lease duration when the leader dies.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import { LeaderElector } from '../client/leaderelection.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';

export interface SchedulerLeaderElection {
  namespace?: string;
  name?: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface SchedulerRunnerOptions extends Omit<SchedulerOptions, 'client' | 'logger' | 'informers'> {
  client: Client;
  logger: Logger;
  /** false: schedule without a lease (tests, benchmarks). */
  leaderElection?: false | SchedulerLeaderElection;
}

export class SchedulerRunner {
  private readonly log: Logger;
  private elector?: LeaderElector;
  private scheduler?: Scheduler;
  private transitions: Promise<void> = Promise.resolve();
  readonly identity: string;

  constructor(private readonly opts: SchedulerRunnerOptions) {
    this.log = opts.logger.child({ component: 'kube-scheduler' });
    const le = opts.leaderElection;
    this.identity = (le && le.identity) || `${hostname()}_${randomUUID()}`;
  }

  get isLeader(): boolean {
    return this.opts.leaderElection === false ? !!this.scheduler : !!this.elector?.isLeader;
  }

  /** The running scheduler (while leading). */
  get current(): Scheduler | undefined {
    return this.scheduler;
  }

  start(): void {
    const le = this.opts.leaderElection;
    if (le === false) {
      this.transitions = this.transitions.then(() => this.startScheduler());
      return;
    }
    this.elector = new LeaderElector({
      client: this.opts.client,
      namespace: le?.namespace ?? 'kube-system',
      name: le?.name ?? 'kube-scheduler',
      identity: this.identity,
      leaseDurationMs: le?.leaseDurationMs,
      renewDeadlineMs: le?.renewDeadlineMs,
      retryPeriodMs: le?.retryPeriodMs,
      logger: this.log,
      onStartedLeading: () => {
        this.transitions = this.transitions.then(() => this.startScheduler());
      },
      onStoppedLeading: () => {
        this.transitions = this.transitions.then(() => this.stopScheduler());
        return this.transitions;
      },
    });
    this.elector.start();
  }

  private async startScheduler(): Promise<void> {
    if (this.scheduler) return;
    const { leaderElection: _le, ...rest } = this.opts;
    const s = new Scheduler({ ...rest, logger: this.opts.logger });
    this.scheduler = s;
    try {
      await s.start();
    } catch (err) {
      this.log.error({ err }, 'scheduler failed to start');
    }
  }

  private async stopScheduler(): Promise<void> {
    const s = this.scheduler;
    if (!s) return;
    this.scheduler = undefined;
    await s.stop().catch((err) => this.log.error({ err }, 'scheduler stop failed'));
  }

  async stop(): Promise<void> {
    if (this.elector) await this.elector.stop();
    this.transitions = this.transitions.then(() => this.stopScheduler());
    await this.transitions;
  }
}
