// A floor under the server's memory: while the heap's live data is close to the heap limit, new
// objects are refused with a 429 (reads, updates and deletes go on, so whoever made the mess can
// clean it up). Without it, a huge but valid request — `replicas: 2147483647`, a loop of creates —
// grows the watch cache until V8 aborts the process, and one user's mistake stops the cluster.
// etcd's space quota plays this part for kube-apiserver; here the memory is the first to run out.
import { type EventLoopUtilization, PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as errors from '../machinery/errors.js';

/**
 * Refuse creates once live data passes this share of the heap limit: the rest is headroom for
 * the transient work of what is allowed on (a list of every pod, a burst of deletions, GC)...
 */
const ENTER_FRACTION = 0.7;
/** ...and accept them again below this one (a gap, so the answer does not flap at the edge). */
const LEAVE_FRACTION = 0.6;
const SAMPLE_MS = 1_000;
/**
 * Under pressure, a full collection is asked for when none ran for this long: once the clean-up
 * is done the server falls quiet, V8 then has no reason to collect, and the freed memory would
 * look used forever (the heap in use counts garbage until a collection).
 */
const COLLECT_QUIET_MS = 10_000;

/** V8's full collection, which Node exposes only behind a flag (set here, when first needed). */
let fullCollection: (() => void) | undefined;
function collectGarbage(): void {
  if (!fullCollection) {
    setFlagsFromString('--expose-gc');
    fullCollection = runInNewContext('gc') as () => void;
  }
  fullCollection();
}

const mib = (n: number) => Math.round(n / 2 ** 20);

/**
 * When the server falls quiet after a burst of work, V8 may keep the burst's garbage for good:
 * its own idle-time collection (the memory reducer) starts only after some full collections, and
 * without allocation no other collection comes. A full run of the API benchmark left 571 MiB of
 * heap in use 30 s after its last write, 314 MiB of it live (the same data kept 308 MiB in use in
 * a run where V8 happened to collect). Go's runtime, which kube-apiserver and etcd run on, forces a
 * collection every two minutes and returns the memory it frees; here one full collection is asked
 * for once the event loop has been nearly idle for IDLE_SAMPLES samples and the heap in use exceeds
 * the live data of the last full collection by IDLE_GARBAGE_MIN_BYTES and IDLE_GARBAGE_FRACTION
 * of it. A busy server (utilization above IDLE_UTILIZATION) is never interrupted by it, and a quiet
 * one collects again only after it allocated that much more.
 */
export const IDLE_UTILIZATION = 0.05;
export const IDLE_SAMPLES = 5;
export const IDLE_GARBAGE_MIN_BYTES = 64 * 2 ** 20;
export const IDLE_GARBAGE_FRACTION = 0.5;

/** What the idle collector reads and does; the process's own heap and event loop by default. */
export interface IdleProbe {
  /** Bytes of heap in use now (live data and garbage not yet collected). */
  used(): number;
  /** Share of the time the event loop was busy since the previous call (0..1). */
  utilization(): number;
  /** A full collection. */
  collect(): void;
}

function processProbe(): IdleProbe {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    used: () => getHeapStatistics().used_heap_size,
    utilization: () => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, last);
      last = now;
      return delta.utilization;
    },
    collect: collectGarbage,
  };
}

export class IdleCollector {
  /** Heap in use right after the last full collection: about the live data. */
  private live?: number;
  private quiet = 0;

  constructor(private readonly probe: IdleProbe = processProbe()) {}

  /** A full collection just ended (V8's own, or ours). */
  afterFullCollection(): void {
    this.live = this.probe.used();
  }

  /** Called about once a second; true when it asked for a collection. */
  sample(): boolean {
    this.quiet = this.probe.utilization() > IDLE_UTILIZATION ? 0 : this.quiet + 1;
    if (this.live === undefined || this.quiet < IDLE_SAMPLES) return false;
    const garbage = this.probe.used() - this.live;
    if (garbage < Math.max(IDLE_GARBAGE_MIN_BYTES, IDLE_GARBAGE_FRACTION * this.live)) return false;
    this.quiet = 0;
    this.probe.collect();
    this.afterFullCollection();
    return true;
  }
}

export interface HeapGuardHooks {
  /** The guard started or stopped refusing. */
  changed?(pressed: boolean, message: string): void;
  /** Called on every sample (each second or so) while refusing: a chance to let go of memory. */
  underPressure?(): void;
}

export class HeapGuard {
  private pressed = false;
  private timer?: NodeJS.Timeout;
  private observer?: PerformanceObserver;
  private lastFullCollection = Date.now();
  private hooks: HeapGuardHooks = {};
  private readonly idle = new IdleCollector();

  constructor(private readonly limit = getHeapStatistics().heap_size_limit) {}

  start(hooks: HeapGuardHooks = {}): void {
    this.hooks = hooks;
    // Entering is decided right after a full collection, when the heap holds live data only: the
    // heap between collections is mostly garbage and would cry wolf. Leaving is decided by any
    // sample, since the heap in use is never less than the live data.
    this.observer = new PerformanceObserver((list) => {
      const full = list
        .getEntries()
        .some((e) => (e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR);
      if (full) this.sample(true);
    });
    this.observer.observe({ entryTypes: ['gc'] });
    this.timer = setInterval(() => this.sample(false), SAMPLE_MS).unref();
  }

  stop(): void {
    this.observer?.disconnect();
    clearInterval(this.timer);
  }

  /** Throws the 429 while the heap is under pressure. */
  admitNewObject(): void {
    if (!this.pressed) return;
    throw errors.tooManyRequests(
      `the server is low on memory (${mib(getHeapStatistics().used_heap_size)} of ${mib(this.limit)} MiB ` +
        'in use): new objects are refused until some are deleted',
      5,
    );
  }

  private sample(afterFullCollection: boolean): void {
    const now = Date.now();
    if (afterFullCollection) {
      this.lastFullCollection = now;
      this.idle.afterFullCollection();
    } else if (!this.pressed && this.idle.sample()) this.lastFullCollection = now;
    if (!afterFullCollection && this.pressed && now - this.lastFullCollection > COLLECT_QUIET_MS) {
      this.lastFullCollection = now;
      collectGarbage(); // (its observer entry samples again, after the collection)
    }
    const used = getHeapStatistics().used_heap_size;
    const was = this.pressed;
    if (afterFullCollection && used > ENTER_FRACTION * this.limit) this.pressed = true;
    else if (used < LEAVE_FRACTION * this.limit) this.pressed = false;
    if (this.pressed !== was) {
      const state = `${mib(used)} of ${mib(this.limit)} MiB of heap in use`;
      this.hooks.changed?.(
        this.pressed,
        this.pressed ? `low on memory (${state}): refusing new objects` : `memory recovered (${state})`,
      );
    }
    if (this.pressed) this.hooks.underPressure?.();
  }
}
