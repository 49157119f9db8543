// One probe of one container instance, run periodically. A worker owns exactly one timer at a
// time and re-arms it only after the previous probe has finished, so a slow probe never overlaps
// itself and timers never pile up. It counts consecutive results and reports when a run of them
// reaches the probe's threshold; what that means (ready, restart, started) is the manager's call.

import type { Probe } from 'kubernetes-types/core/v1.js';
import type { ProbeRunner } from './run.js';
import type { ProbeSettings } from './settings.js';
import { isSuccess, type ProbeContext, type ProbeKind, type ProbeOutcome } from './types.js';

export interface WorkerHooks {
  /** False while the probe must wait (liveness/readiness before the startup probe passed). */
  canProbe(): boolean;
  /** Every outcome, for events. */
  onOutcome(outcome: ProbeOutcome): void;
  /**
   * Called each time the current run of equal results is at or above its threshold.
   * Returning false stops the worker (the container is about to be restarted, or started).
   */
  onThreshold(result: 'success' | 'failure', outcome: ProbeOutcome): boolean;
}

export interface WorkerClock {
  now(): number;
  /** Milliseconds per probe "second" (1000 in production; smaller in tests). */
  secondMs: number;
}

export class ProbeWorker {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = 0;
  /** Nothing runs before this (initialDelaySeconds), not even a manual trigger. */
  private notBefore = 0;
  private running = false;
  private triggerPending = false;
  private stopped = false;
  private lastResult: 'success' | 'failure' | undefined;
  private resultRun = 0;

  constructor(
    readonly kind: ProbeKind,
    private readonly probe: Probe,
    readonly settings: ProbeSettings,
    private readonly ctx: ProbeContext,
    private readonly runner: ProbeRunner,
    private readonly hooks: WorkerHooks,
    private readonly clock: WorkerClock,
  ) {}

  /** Starts probing at `firstDueAt` (clock time), then every periodSeconds. */
  start(firstDueAt: number): void {
    if (this.stopped || this.timer || this.running) return;
    this.notBefore = firstDueAt;
    this.arm(firstDueAt);
  }

  /** Probes as soon as possible (upstream's manual trigger), then resumes the period from then. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.triggerPending = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.arm(Math.max(this.clock.now(), this.notBefore));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  private arm(at: number): void {
    this.dueAt = at;
    const timer = setTimeout(
      () => {
        this.timer = undefined;
        void this.tick();
      },
      Math.max(0, at - this.clock.now()),
    );
    // The agent's lifetime is decided elsewhere; a pending probe must never hold the process.
    timer.unref();
    this.timer = timer;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.hooks.canProbe()) {
      this.running = true;
      let outcome: ProbeOutcome;
      try {
        outcome = await this.runner(this.probe, this.ctx);
      } catch (err) {
        outcome = { result: 'error', output: err instanceof Error ? err.message : String(err) };
      } finally {
        this.running = false;
      }
      // A result that arrives after stop() belongs to a container nobody asks about any more.
      if (this.stopped) return;
      this.record(outcome);
      if (this.stopped) return;
    }
    if (this.triggerPending) {
      this.triggerPending = false;
      this.arm(this.clock.now());
      return;
    }
    const now = this.clock.now();
    // After a probe slower than the period, probe again right away rather than queueing ticks.
    this.arm(Math.max(now, this.dueAt + this.settings.periodSeconds * this.clock.secondMs));
  }

  private record(outcome: ProbeOutcome): void {
    this.hooks.onOutcome(outcome);
    // Upstream throws away results of probes that could not run at all.
    if (outcome.result === 'error') return;
    const result = isSuccess(outcome) ? 'success' : 'failure';
    if (result === this.lastResult) {
      this.resultRun += 1;
    } else {
      this.lastResult = result;
      this.resultRun = 1;
    }
    const threshold = result === 'success' ? this.settings.successThreshold : this.settings.failureThreshold;
    if (this.resultRun < threshold) return;
    if (!this.hooks.onThreshold(result, outcome)) this.stop();
  }
}
