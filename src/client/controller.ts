// A controller runner: N workers take keys from a rate-limited queue and call an idempotent
// reconcile(key). Success forgets the key's failures; an error requeues it with backoff; a
// result may ask for a later look (requeueAfter).
import type { Logger } from 'pino';
import { RateLimitingQueue, type RateLimiter } from './workqueue.js';

export interface ReconcileResult {
  /** Look at the key again after this long (ms), even though it succeeded. */
  requeueAfterMs?: number;
}

export type Reconciler = (key: string) => Promise<ReconcileResult | void> | ReconcileResult | void;

export interface ControllerRunnerOptions {
  name: string;
  reconcile: Reconciler;
  workers?: number;
  queue?: RateLimitingQueue<string>;
  rateLimiter?: RateLimiter<string>;
  logger?: Logger;
  /** Give up on a key after this many consecutive failures (default: never). */
  maxRetries?: number;
}

export class ControllerRunner {
  readonly name: string;
  readonly queue: RateLimitingQueue<string>;
  private readonly workers: number;
  private running: Promise<void>[] = [];
  private started = false;

  constructor(private readonly opts: ControllerRunnerOptions) {
    this.name = opts.name;
    this.queue = opts.queue ?? new RateLimitingQueue<string>({ rateLimiter: opts.rateLimiter, name: opts.name });
    this.workers = opts.workers ?? 1;
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    for (let i = 0; i < this.workers; i++) this.running.push(this.worker());
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        const result = await this.opts.reconcile(key);
        this.queue.forget(key);
        if (result && result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        const max = this.opts.maxRetries;
        if (max !== undefined && this.queue.numRequeues(key) >= max) {
          this.opts.logger?.warn({ err, key, queue: this.name }, 'dropping key after repeated failures');
          this.queue.forget(key);
        } else {
          this.opts.logger?.debug({ err, key, queue: this.name }, 'reconcile failed; requeued');
          this.queue.addRateLimited(key);
        }
      } finally {
        this.queue.done(key);
      }
    }
  }

  /** Stop taking keys; wait for the ones being processed. */
  async stop(): Promise<void> {
    this.queue.shutDown();
    await Promise.all(this.running);
    this.running = [];
  }
}
