// A floor under the server's memory: while the heap's live data is close to the heap limit, new
// objects are refused with a 429 (reads, updates and deletes go on, so whoever made the mess can
// clean it up). Without it, a huge but valid request — `replicas: 2147483647`, a loop of creates —
// grows the watch cache until V8 aborts the process, and one user's mistake stops the cluster.
// etcd's space quota plays this part for kube-apiserver; here the memory is the first to run out.
import { type EventLoopUtilization, PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as errors from '../machinery/errors.js';
import { trimNativeHeap } from '../storage/sqlite/malloctrim.js';

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
/**
 * A full collection; with `compact`, one that also moves the surviving objects together and gives
 * the emptied pages back. A plain one frees objects but keeps every page that still holds one live
 * object (V8 compacts only the few most fragmented pages), so after a burst the heap's committed
 * memory stays at the burst's size. V8 compacts everything on a full collection only under a flag,
 * set here for this one collection and cleared again whatever happens.
 */
function collectGarbage(compact = false): void {
  if (!fullCollection) {
    setFlagsFromString('--expose-gc');
    fullCollection = runInNewContext('gc') as () => void;
  }
  if (!compact) return fullCollection();
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    fullCollection();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}

/** Bytes of the old generation's pages that hold no live object, and the old generation's live bytes. */
function oldGeneration(): { free: number; used: number } {
  let free = 0;
  let used = 0;
  for (const s of getHeapSpaceStatistics()) {
    if (s.space_name !== 'old_space' && s.space_name !== 'code_space') continue;
    free += s.space_size - s.space_used_size;
    used += s.space_used_size;
  }
  return { free, used };
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
 *
 * Collected or not, the old generation's pages stay committed while any object on them lives: after
 * the burst the heap holds the burst's size of pages, partly empty (in the same benchmark 466 MiB
 * committed for 335 in use). When those empty parts exceed IDLE_FREE_MIN_BYTES and IDLE_FREE_FRACTION
 * of the live data, the quiet server's collection compacts: it moves the live objects together and
 * returns the emptied pages. Moving costs about twice a plain collection's pause, so it is done only
 * for live data up to COMPACT_MAX_LIVE_BYTES (a pause of about a second per 500 MiB on this 2-core
 * machine), and again only once that much more has come free since the last compaction.
 *
 * Memory outside V8's heap has the same fate: C's malloc keeps what was freed below its heap's
 * top (after 1,000 TLS watch connections closed, ≈ 70 MiB for good). A quiet server asks malloc to
 * return its free pages (storage/sqlite/malloctrim.ts) when a full collection ran since the last
 * time (a closed socket's TLS state and buffers are freed only when the collector takes its JS
 * object), or when its memory outside the JS heap grew by NATIVE_TRIM_MIN_BYTES since then.
 */
export const IDLE_UTILIZATION = 0.05;
export const IDLE_SAMPLES = 5;
export const IDLE_GARBAGE_MIN_BYTES = 64 * 2 ** 20;
export const IDLE_GARBAGE_FRACTION = 0.5;
export const IDLE_FREE_MIN_BYTES = 32 * 2 ** 20;
export const IDLE_FREE_FRACTION = 0.1;
export const COMPACT_MAX_LIVE_BYTES = 2 ** 30;
export const NATIVE_TRIM_MIN_BYTES = 32 * 2 ** 20;

/** What the idle collector reads and does; the process's own heap and event loop by default. */
export interface IdleProbe {
  /** Bytes of heap in use now (live data and garbage not yet collected). */
  used(): number;
  /** Bytes of the old generation's committed pages that hold no object (a compaction returns them). */
  free(): number;
  /** Share of the time the event loop was busy since the previous call (0..1). */
  utilization(): number;
  /** A full collection; with `compact`, one that moves live objects together and frees pages. */
  collect(compact: boolean): void;
  /** Bytes of the process's resident memory outside V8's heap (C heap, code, stacks). */
  native(): number;
  /** Hands the C heap's free pages back to the system. */
  trim(): void;
}

function processProbe(): IdleProbe {
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  return {
    used: () => getHeapStatistics().used_heap_size,
    free: () => oldGeneration().free,
    utilization: () => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, last);
      last = now;
      return delta.utilization;
    },
    collect: collectGarbage,
    native: () => {
      const m = process.memoryUsage();
      return m.rss - m.heapTotal;
    },
    trim: trimNativeHeap,
  };
}

export class IdleCollector {
  /** Heap in use right after the last full collection: about the live data. */
  private live?: number;
  private quiet = 0;
  /** Free old-generation bytes right after the last compaction (what compacting did not return). */
  private freeAfterCompaction = 0;
  /** Memory outside the JS heap right after the last trim. */
  private nativeAfterTrim = 0;
  private collectedSinceTrim = false;

  constructor(private readonly probe: IdleProbe = processProbe()) {}

  /** A full collection just ended (V8's own, or ours). */
  afterFullCollection(): void {
    this.live = this.probe.used();
    this.collectedSinceTrim = true;
  }

  /** Called about once a second; true when it asked for a collection (a trim alone returns false). */
  sample(): boolean {
    this.quiet = this.probe.utilization() > IDLE_UTILIZATION ? 0 : this.quiet + 1;
    if (this.quiet < IDLE_SAMPLES) return false;
    if (this.live === undefined) return this.trim();
    const live = this.live;
    const garbage = this.probe.used() - live;
    const collect = garbage >= Math.max(IDLE_GARBAGE_MIN_BYTES, IDLE_GARBAGE_FRACTION * live);
    // What a compaction would return: the empty parts of pages now, and the garbage's if collected.
    const free = this.probe.free() + (collect ? garbage : 0) - this.freeAfterCompaction;
    const compact = live <= COMPACT_MAX_LIVE_BYTES && free >= Math.max(IDLE_FREE_MIN_BYTES, IDLE_FREE_FRACTION * live);
    // (A trim comes after a collection's quiet samples: V8 returns the pages it freed in the background.)
    if (!collect && !compact) return this.trim();
    this.quiet = 0;
    this.probe.collect(compact);
    this.afterFullCollection();
    if (compact) this.freeAfterCompaction = this.probe.free();
    return true;
  }

  /** Trims the C heap after a collection or growth since the last trim; false (no collection) either way. */
  private trim(): false {
    if (!this.collectedSinceTrim && this.probe.native() - this.nativeAfterTrim < NATIVE_TRIM_MIN_BYTES) return false;
    this.quiet = 0;
    this.collectedSinceTrim = false;
    this.probe.trim();
    this.nativeAfterTrim = this.probe.native();
    return false;
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
