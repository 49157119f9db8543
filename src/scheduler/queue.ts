// The scheduling queue (upstream internal/queue.PriorityQueue):
//  - activeQ: pods ready to be tried, highest priority first, then oldest;
//  - backoffQ: pods that failed, waiting out an exponential backoff (1 s doubling to 10 s);
//  - unschedulable pods: parked until a cluster event that may help them (a node added or
//    changed, an assigned pod deleted, ...) moves them back, or for at most 5 minutes. Whether
//    an event may help is asked of the plugins that rejected the pod: first by event kind
//    (EVENTS), then by the plugin's queueing hint on the object the event carries
//    (queueinghints.ts), as upstream's QueueingHint.
// Events that arrive while pods are being scheduled are kept until those attempts end: a pod
// that fails goes to backoffQ instead of the unschedulable pods if one of them may have helped
// it (upstream's in-flight events), so no event is missed.
import { KeyedHeap } from './heap.js';
import type { EventObjects, QueueingHints } from './queueinghints.js';
import type { PodInfo } from './types.js';

export interface QueuedPodInfo {
  pi: PodInfo;
  /** When it was (re)added to a queue (ms). */
  timestamp: number;
  /** When it was first added (ms): the start of its scheduling latency. */
  initialAttemptTimestamp: number;
  attempts: number;
  /** Plugins that rejected it in its last attempt. */
  unschedulablePlugins: Set<string>;
  /** The in-flight event sequence number when it was popped (events after it may concern it). */
  poppedAtEvent?: number;
}

/** Cluster events that can make unschedulable pods schedulable, with the plugins they help. */
export interface ClusterEvent {
  label: string;
  /** Plugins whose rejections this event may resolve ('*': any). */
  plugins: ReadonlySet<string> | '*';
}

export const EVENTS = {
  NodeAdd: { label: 'NodeAdd', plugins: '*' } as ClusterEvent,
  NodeUpdate: {
    label: 'NodeUpdate',
    plugins: new Set([
      'NodeResourcesFit',
      'NodeAffinity',
      'TaintToleration',
      'NodeUnschedulable',
      'NodePorts',
      'InterPodAffinity',
      'PodTopologySpread',
      'NodeName',
    ]),
  } as ClusterEvent,
  AssignedPodAdd: {
    label: 'AssignedPodAdd',
    plugins: new Set(['InterPodAffinity', 'PodTopologySpread']),
  } as ClusterEvent,
  AssignedPodUpdate: {
    label: 'AssignedPodUpdate',
    plugins: new Set(['InterPodAffinity', 'PodTopologySpread', 'NodeResourcesFit']),
  } as ClusterEvent,
  AssignedPodDelete: {
    label: 'AssignedPodDelete',
    plugins: new Set(['NodeResourcesFit', 'NodePorts', 'InterPodAffinity', 'PodTopologySpread', 'DefaultPreemption']),
  } as ClusterEvent,
  NamespaceChange: { label: 'NamespaceChange', plugins: new Set(['InterPodAffinity']) } as ClusterEvent,
  UnschedulableTimeout: { label: 'UnschedulableTimeout', plugins: '*' } as ClusterEvent,
  ForceActivate: { label: 'ForceActivate', plugins: '*' } as ClusterEvent,
};

export interface QueueOptions {
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a pod may stay unschedulable before it is retried anyway (default 5 min). */
  maxInUnschedulableMs?: number;
  now?: () => number;
  /** Per-plugin queueing hints (none: every event a plugin registers for requeues its pods). */
  hints?: QueueingHints;
}

interface InFlightEvent {
  seq: number;
  event: ClusterEvent;
  objs: EventObjects;
}

/** Bound on the events kept for pods in flight (a long preemption must not pin them all). */
const MAX_IN_FLIGHT_EVENTS = 10_000;

const byPriority = (a: QueuedPodInfo, b: QueuedPodInfo) =>
  a.pi.priority !== b.pi.priority ? a.pi.priority > b.pi.priority : a.timestamp < b.timestamp;

export class SchedulingQueue {
  private readonly activeQ = new KeyedHeap<QueuedPodInfo>((q) => q.pi.key, byPriority);
  private readonly backoffQ: KeyedHeap<QueuedPodInfo>;
  private readonly unschedulable = new Map<string, QueuedPodInfo>();
  /** Pods popped and being scheduled. */
  private readonly inFlight = new Map<string, QueuedPodInfo>();
  /** Nominated node per pod (preemptors waiting for victims to go). */
  private readonly nominated = new Map<string, { pi: PodInfo; node: string }>();
  private waiters: ((q: QueuedPodInfo | null) => void)[] = [];
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  schedulingCycle = 0;
  /** Cluster events seen while pods were in flight, oldest first (cleared when none are). */
  private inFlightEvents: InFlightEvent[] = [];
  private eventSeq = 0;
  /** Events up to this one were dropped from inFlightEvents (bound reached): assume they helped. */
  private droppedThroughEvent = 0;
  private readonly hints: QueueingHints;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  private readonly maxInUnschedulableMs: number;
  private readonly now: () => number;

  constructor(opts: QueueOptions = {}) {
    this.initialBackoffMs = opts.initialBackoffMs ?? 1000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
    this.maxInUnschedulableMs = opts.maxInUnschedulableMs ?? 5 * 60_000;
    this.now = opts.now ?? Date.now;
    this.hints = opts.hints ?? new Map();
    this.backoffQ = new KeyedHeap<QueuedPodInfo>(
      (q) => q.pi.key,
      (a, b) => this.backoffExpiry(a) < this.backoffExpiry(b),
    );
  }

  /** Start the periodic flushes (backoffQ every second, long-unschedulable pods every 30 s). */
  run(): void {
    this.timers.push(setInterval(() => this.flushBackoffQCompleted(), 1000));
    this.timers.push(setInterval(() => this.flushUnschedulableLeftover(), 30_000));
    for (const t of this.timers) t.unref?.();
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const w of this.waiters.splice(0)) w(null);
  }

  backoffDuration(q: QueuedPodInfo): number {
    let d = this.initialBackoffMs;
    for (let i = 1; i < q.attempts; i++) {
      d *= 2;
      if (d >= this.maxBackoffMs) return this.maxBackoffMs;
    }
    return Math.min(d, this.maxBackoffMs);
  }

  backoffExpiry(q: QueuedPodInfo): number {
    return q.timestamp + this.backoffDuration(q);
  }

  private isBackingOff(q: QueuedPodInfo): boolean {
    return q.attempts > 0 && this.backoffExpiry(q) > this.now();
  }

  private newQueued(pi: PodInfo): QueuedPodInfo {
    const now = this.now();
    return { pi, timestamp: now, initialAttemptTimestamp: now, attempts: 0, unschedulablePlugins: new Set() };
  }

  private pushActive(q: QueuedPodInfo): void {
    const w = this.waiters.shift();
    if (w) {
      this.markInFlight(q);
      w(q);
      return;
    }
    this.activeQ.push(q);
  }

  /** A new pending pod. */
  add(pi: PodInfo): void {
    const key = pi.key;
    if (this.inFlight.has(key) || this.activeQ.has(key) || this.backoffQ.has(key) || this.unschedulable.has(key)) {
      this.update(pi);
      return;
    }
    this.pushActive(this.newQueued(pi));
  }

  /** A pending pod changed: refresh it, and give it a new chance if it was parked. */
  update(pi: PodInfo): void {
    const key = pi.key;
    const inFlight = this.inFlight.get(key);
    if (inFlight) {
      inFlight.pi = pi;
      return;
    }
    const a = this.activeQ.get(key);
    if (a) {
      a.pi = pi;
      this.activeQ.push(a);
      return;
    }
    const b = this.backoffQ.get(key);
    if (b) {
      b.pi = pi;
      this.backoffQ.push(b);
      return;
    }
    const u = this.unschedulable.get(key);
    if (u) {
      this.unschedulable.delete(key);
      u.pi = pi;
      if (this.isBackingOff(u)) this.backoffQ.push(u);
      else this.pushActive(u);
      return;
    }
    this.pushActive(this.newQueued(pi));
  }

  /** A pending pod changed in ways that cannot help it (status): keep its place, refresh it. */
  refresh(pi: PodInfo): void {
    const key = pi.key;
    const q = this.inFlight.get(key) ?? this.activeQ.get(key) ?? this.backoffQ.get(key) ?? this.unschedulable.get(key);
    if (q) q.pi = pi;
  }

  /** A pod whose binding failed comes back after its backoff. */
  requeueAfterError(q: QueuedPodInfo): void {
    const key = q.pi.key;
    if (this.has(key)) return;
    q.timestamp = this.now();
    this.backoffQ.push(q);
  }

  delete(key: string): void {
    this.activeQ.delete(key);
    this.backoffQ.delete(key);
    this.unschedulable.delete(key);
    this.endInFlight(key);
    this.nominated.delete(key);
  }

  has(key: string): boolean {
    return this.inFlight.has(key) || this.activeQ.has(key) || this.backoffQ.has(key) || this.unschedulable.has(key);
  }

  /** The next pod to schedule (waits while activeQ is empty; null once closed). */
  pop(): Promise<QueuedPodInfo | null> {
    if (this.closed) return Promise.resolve(null);
    const q = this.activeQ.pop();
    if (q) {
      this.markInFlight(q);
      return Promise.resolve(q);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Synchronous pop (tests, benchmarks). */
  tryPop(): QueuedPodInfo | undefined {
    const q = this.activeQ.pop();
    if (!q) return undefined;
    this.markInFlight(q);
    return q;
  }

  private markInFlight(q: QueuedPodInfo): void {
    this.schedulingCycle++;
    q.attempts++;
    q.poppedAtEvent = this.eventSeq;
    this.inFlight.set(q.pi.key, q);
  }

  private endInFlight(key: string): void {
    this.inFlight.delete(key);
    if (this.inFlight.size === 0) this.inFlightEvents = [];
  }

  /** The scheduling attempt of a popped pod ended (bound, or handed back below). */
  done(key: string): void {
    this.endInFlight(key);
  }

  /**
   * A popped pod failed: park it as unschedulable, or — if a cluster event that may help it
   * arrived while it was being scheduled, or it failed with an error — put it in backoffQ.
   */
  addUnschedulableIfNotPresent(q: QueuedPodInfo, _podSchedulingCycle?: number, error = false): void {
    const key = q.pi.key;
    if (!this.inFlight.has(key)) return; // deleted meanwhile
    const missed = error || this.eventDuringAttemptHelps(q);
    this.endInFlight(key);
    if (this.activeQ.has(key) || this.backoffQ.has(key) || this.unschedulable.has(key)) return;
    q.timestamp = this.now();
    if (missed) this.backoffQ.push(q);
    else this.unschedulable.set(key, q);
  }

  private eventDuringAttemptHelps(q: QueuedPodInfo): boolean {
    const since = q.poppedAtEvent ?? 0;
    if (since < this.droppedThroughEvent) return true;
    for (const e of this.inFlightEvents) if (e.seq > since && this.helps(e.event, q, e.objs)) return true;
    return false;
  }

  /**
   * Move parked pods that `event` may help back to activeQ (or backoffQ while backing off);
   * `objs` is what changed (old and new object), for the plugins' queueing hints.
   */
  moveAllToActiveOrBackoffQueue(
    event: ClusterEvent,
    filter?: (q: QueuedPodInfo) => boolean,
    objs: EventObjects = {},
  ): number {
    let moved = 0;
    for (const [key, q] of this.unschedulable) {
      if (filter && !filter(q)) continue;
      if (!this.helps(event, q, objs)) continue;
      this.unschedulable.delete(key);
      moved++;
      if (this.isBackingOff(q)) this.backoffQ.push(q);
      else this.pushActive(q);
    }
    if (this.inFlight.size > 0) {
      this.inFlightEvents.push({ seq: ++this.eventSeq, event, objs });
      if (this.inFlightEvents.length > MAX_IN_FLIGHT_EVENTS) {
        this.droppedThroughEvent = this.eventSeq;
        this.inFlightEvents = [];
      }
    }
    return moved;
  }

  /**
   * Can `event` make `q` schedulable? Yes if nothing rejected it by a plugin (an error), for the
   * wildcard events, or if a plugin that rejected it registers the event and — where it has a
   * queueing hint for it — the hint says Queue (upstream isPodWorthRequeuing).
   */
  private helps(event: ClusterEvent, q: QueuedPodInfo, objs: EventObjects): boolean {
    if (q.unschedulablePlugins.size === 0) return true;
    // Without the changed object no hint can judge the event.
    const judged = objs.oldObj !== undefined || objs.newObj !== undefined;
    if (event.plugins === '*' && !judged) return true;
    for (const p of q.unschedulablePlugins) {
      if (event.plugins !== '*' && !event.plugins.has(p)) continue;
      const hint = this.hints.get(p)?.get(event.label);
      if (!hint || !judged || hint(q.pi, objs) === 'Queue') return true;
    }
    return false;
  }

  flushBackoffQCompleted(): void {
    const now = this.now();
    for (;;) {
      const q = this.backoffQ.peek();
      if (!q || this.backoffExpiry(q) > now) break;
      this.backoffQ.pop();
      this.pushActive(q);
    }
  }

  flushUnschedulableLeftover(): void {
    const now = this.now();
    const stale: QueuedPodInfo[] = [];
    for (const q of this.unschedulable.values()) if (now - q.timestamp > this.maxInUnschedulableMs) stale.push(q);
    if (!stale.length) return;
    const keys = new Set(stale.map((q) => q.pi.key));
    this.moveAllToActiveOrBackoffQueue(EVENTS.UnschedulableTimeout, (q) => keys.has(q.pi.key));
  }

  // ---- nominated pods

  addNominated(pi: PodInfo, node: string): void {
    if (node) this.nominated.set(pi.key, { pi, node });
    else this.nominated.delete(pi.key);
  }

  deleteNominated(key: string): void {
    this.nominated.delete(key);
  }

  nominatedPodsForNode(node: string): PodInfo[] {
    const out: PodInfo[] = [];
    for (const n of this.nominated.values()) if (n.node === node) out.push(n.pi);
    return out;
  }

  get hasNominated(): boolean {
    return this.nominated.size > 0;
  }

  // ---- introspection

  pending(): { active: number; backoff: number; unschedulable: number; inFlight: number } {
    return {
      active: this.activeQ.size,
      backoff: this.backoffQ.size,
      unschedulable: this.unschedulable.size,
      inFlight: this.inFlight.size,
    };
  }

  isUnschedulable(key: string): boolean {
    return this.unschedulable.has(key);
  }

  inBackoff(key: string): boolean {
    return this.backoffQ.has(key);
  }

  inActive(key: string): boolean {
    return this.activeQ.has(key);
  }
}
