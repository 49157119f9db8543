// Work queues in the manner of client-go's util/workqueue: a key queued several times while it
// waits is processed once; a key re-added while being processed is processed again afterwards
// (never by two workers at once); failures come back after a per-item exponential backoff,
// bounded overall by a token bucket.
import { WorkqueueMetrics } from '../machinery/componentmetrics.js';

/** How long to wait before an item may be retried. */
export interface RateLimiter<T> {
  when(item: T): number;
  forget(item: T): void;
  numRequeues(item: T): number;
}

/** base * 2^failures, capped (client-go: 5 ms → 1000 s). */
export class ItemExponentialFailureRateLimiter<T> implements RateLimiter<T> {
  private failures = new Map<T, number>();
  constructor(
    private readonly baseMs = 5,
    private readonly maxMs = 1000_000,
  ) {}
  when(item: T): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    const backoff = this.baseMs * Math.pow(2, n);
    return Math.min(backoff, this.maxMs);
  }
  forget(item: T): void {
    this.failures.delete(item);
  }
  numRequeues(item: T): number {
    return this.failures.get(item) ?? 0;
  }
}

/** An overall token bucket (client-go: 10 qps, burst 100): the delay until a token is free. */
export class BucketRateLimiter<T> implements RateLimiter<T> {
  private tokens: number;
  private last = Date.now();
  constructor(
    private readonly qps = 10,
    private readonly burst = 100,
  ) {
    this.tokens = burst;
  }
  when(_item: T): number {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.qps);
    this.last = now;
    this.tokens -= 1;
    // Reserve a token: when it is negative the caller waits until it has been refilled.
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.qps) * 1000);
  }
  forget(): void {}
  numRequeues(): number {
    return 0;
  }
}

/** The longest of several limiters' delays. */
export class MaxOfRateLimiter<T> implements RateLimiter<T> {
  private readonly limiters: RateLimiter<T>[];
  constructor(...limiters: RateLimiter<T>[]) {
    this.limiters = limiters;
  }
  when(item: T): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.when(item));
    return max;
  }
  forget(item: T): void {
    for (const l of this.limiters) l.forget(item);
  }
  numRequeues(item: T): number {
    let max = 0;
    for (const l of this.limiters) max = Math.max(max, l.numRequeues(item));
    return max;
  }
}

/** client-go's DefaultControllerRateLimiter: max(5 ms·2^n up to 1000 s, 10 qps / burst 100). */
export function defaultControllerRateLimiter<T>(
  opts: { baseMs?: number; maxMs?: number; qps?: number; burst?: number } = {},
): RateLimiter<T> {
  return new MaxOfRateLimiter<T>(
    new ItemExponentialFailureRateLimiter<T>(opts.baseMs ?? 5, opts.maxMs ?? 1000_000),
    new BucketRateLimiter<T>(opts.qps ?? 10, opts.burst ?? 100),
  );
}

export class RateLimitingQueue<T = string> {
  private readonly queue: T[] = [];
  private head = 0;
  private readonly dirty = new Set<T>();
  private readonly processing = new Set<T>();
  private readonly waiting = new Map<T, { at: number; timer: NodeJS.Timeout }>();
  private readonly getters: ((item: T | undefined) => void)[] = [];
  private shuttingDown = false;
  readonly rateLimiter: RateLimiter<T>;
  /** client-go's workqueue_* metrics, for named queues only. */
  private readonly metrics?: WorkqueueMetrics<T>;

  constructor(opts: { rateLimiter?: RateLimiter<T>; name?: string } = {}) {
    this.rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter<T>();
    if (opts.name) this.metrics = new WorkqueueMetrics<T>(opts.name);
  }

  /** Queue an item (no-op if it already waits; deferred if it is being processed). */
  add(item: T): void {
    if (this.shuttingDown || this.dirty.has(item)) return;
    this.dirty.add(item);
    this.metrics?.add(item);
    if (this.processing.has(item)) return;
    this.push(item);
  }

  private push(item: T): void {
    const getter = this.getters.shift();
    if (getter) {
      this.dirty.delete(item);
      this.processing.add(item);
      this.metrics?.get(item);
      getter(item);
      return;
    }
    this.queue.push(item);
  }

  /** Queue an item after a delay (the earliest of several pending delays wins). */
  addAfter(item: T, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(item);
    const at = Date.now() + delayMs;
    const existing = this.waiting.get(item);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.waiting.delete(item);
      this.add(item);
    }, delayMs);
    this.waiting.set(item, { at, timer });
  }

  /** Queue an item after its rate limiter's delay (a failure: the backoff grows). */
  addRateLimited(item: T): void {
    this.metrics?.retry();
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Stop tracking an item's failures (after it succeeded). */
  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** The next item, once there is one; undefined after shutDown. Call done(item) when finished. */
  get(): Promise<T | undefined> {
    if (this.head < this.queue.length) {
      const item = this.queue[this.head];
      this.queue[this.head++] = undefined as T;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.dirty.delete(item);
      this.processing.add(item);
      this.metrics?.get(item);
      return Promise.resolve(item);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Mark an item processed; if it was re-added meanwhile, it is queued again. */
  done(item: T): void {
    this.processing.delete(item);
    this.metrics?.done(item);
    // Re-added while processed: it was counted then, it is queued now.
    if (this.dirty.has(item) && !this.shuttingDown) this.push(item);
  }

  len(): number {
    return this.queue.length - this.head;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Refuse new items, drop delayed ones, release waiting getters. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    for (const g of this.getters.splice(0)) g(undefined);
  }
}
