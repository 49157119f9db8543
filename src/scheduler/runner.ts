// Runs the scheduler over one client (in-process inside `k8ts server`, HTTPS for `k8ts
// scheduler`) while holding the kube-system/kube-scheduler Lease, so two schedulers never bind
// at once: a standby waits and takes over within the lease duration when the leader dies.
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import { LeaderRunner, type LeaseOptions } from '../client/leaderelection.js';
import { Scheduler, type SchedulerOptions } from './scheduler.js';

export type SchedulerLeaderElection = LeaseOptions;

export interface SchedulerRunnerOptions extends Omit<SchedulerOptions, 'client' | 'logger' | 'informers'> {
  client: Client;
  logger: Logger;
  /** false: schedule without a lease (tests, benchmarks). */
  leaderElection?: false | SchedulerLeaderElection;
}

export class SchedulerRunner {
  private readonly log: Logger;
  private readonly runner: LeaderRunner;
  private scheduler?: Scheduler;

  constructor(private readonly opts: SchedulerRunnerOptions) {
    this.log = opts.logger.child({ component: 'kube-scheduler' });
    this.runner = new LeaderRunner({
      client: opts.client,
      logger: this.log,
      leaderElection: opts.leaderElection,
      defaultLeaseName: 'kube-scheduler',
      start: () => this.startScheduler(),
      stop: () => this.stopScheduler(),
    });
  }

  get identity(): string {
    return this.runner.identity;
  }

  get isLeader(): boolean {
    return this.runner.isLeader;
  }

  /** The running scheduler (while leading). */
  get current(): Scheduler | undefined {
    return this.scheduler;
  }

  start(): void {
    this.runner.start();
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

  /** Stop scheduling and give the lease back. */
  stop(): Promise<void> {
    return this.runner.stop();
  }
}
