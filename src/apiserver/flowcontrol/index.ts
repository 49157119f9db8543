// API Priority and Fairness (upstream k8s.io/apiserver/pkg/util/flowcontrol): every request is
// classified by the FlowSchemas into a priority level and a flow; a Limited level runs as many
// requests at once as its seats (its share of the server's concurrency, --max-requests-inflight +
// --max-mutating-requests-inflight split by nominalConcurrencyShares, after lending and
// borrowing) allow, and queues the rest fairly
// between flows (queueset.ts); the exempt level never waits. The configuration objects are kept
// as upstream's configuration-producer controller keeps them (mandatory ones restored, suggested
// ones created and, while annotated for it, updated) and each FlowSchema's Dangling condition
// says whether its priority level exists.
//
// A request takes the seats its work is estimated at (workestimate.ts: a LIST by its objects, a
// write by the watchers it notifies, a watch until its initial events are sent). A request whose
// client goes away while it waits leaves its queue at once (cancel()).
//
// Levels lend and borrow seats by demand every 10 s (borrowing.ts).
//
// Simplifications (docs/security.md, "API Priority and Fairness"): a Limited level keeps at
// least one seat; in-process watches take no seat.
import type { FlowSchema, FlowSchemaCondition, PriorityLevelConfiguration } from 'kubernetes-types/flowcontrol/v1.js';
import type { Attributes } from '../authz/types.js';
import type { UserInfo } from '../user.js';
import { isPromise } from '../convert.js';
import type { Store, WriteContext } from '../store.js';
import type { CacheEvent } from '../../storage/cacher.js';
import type { Logger } from 'pino';
import * as errors from '../../machinery/errors.js';
import { deepEqual, deepCopy } from '../../machinery/objects.js';
import { QueueSet, Rejected, type RejectReason } from './queueset.js';
import { byPrecedence, distinguisher, schemaMatches } from './classify.js';
import { ONE_SEAT, WatchTracker, estimateWork, type ListParams, type WorkEstimate } from './workestimate.js';
import { ADJUSTMENT_PERIOD_MS, DemandStats, SAMPLE_PERIOD_MS, SeatDemand, allocate } from './borrowing.js';
import {
  AUTOUPDATE_ANNOTATION,
  CATCH_ALL,
  EXEMPT,
  MANDATORY_FLOW_SCHEMAS,
  MANDATORY_PRIORITY_LEVELS,
  SUGGESTED_FLOW_SCHEMAS,
  SUGGESTED_PRIORITY_LEVELS,
} from '../../api/flowcontrol/v1/bootstrap.js';

const GROUP = 'flowcontrol.apiserver.k8s.io';
export const FLOW_SCHEMA_UID_HEADER = 'X-Kubernetes-PF-FlowSchema-UID';
export const PRIORITY_LEVEL_UID_HEADER = 'X-Kubernetes-PF-PriorityLevel-UID';
const TOO_MANY = 'Too many requests, please try again later.';

/** The API server's own writes of the configuration (upstream's loopback client, system:masters). */
const writeContext = (fieldManager: string, subresource?: string): WriteContext => ({
  dryRun: false,
  fieldManager,
  user: { name: 'system:apiserver', groups: ['system:masters'] },
  warnings: [],
  subresource,
});

interface Level {
  name: string;
  uid: string;
  exempt: boolean;
  set?: QueueSet;
  /** The most seats one request may take here (upstream's MaxSeatsTracker; 0: the estimator's limit). */
  maxSeats: number;
  /** Its share of the server's seats (NominalCL), and the bounds borrowing keeps `current` in. */
  nominal: number;
  lower: number;
  upper: number;
  /** Its seats now (CurrentCL), after lending or borrowing; -1 until first set. */
  current: number;
  stats: DemandStats;
  /** Its (level, schema) counters by schema name. */
  pairs: Map<string, PairStats>;
  /** Its demand's samples in the current period. */
  demand: SeatDemand;
  /** An exempt level's highest count of running requests since the last division (a Limited one's is its queue set's). */
  peak: number;
  /** Exempt levels count what runs (metrics only). */
  running: number;
}

/** Counters of one (priority level, flow schema) pair, for the metrics. */
export interface PairStats {
  level: string;
  schema: string;
  dispatched: number;
  executing: number;
  /** Seats the executing requests take. */
  executingSeats: number;
  waiting: number;
  rejected: Map<RejectReason, number>;
  /** Wait durations: bucket counts (not cumulative, last slot above every bound), sum, count. */
  waitBuckets: Float64Array;
  waitSum: number;
  waitCount: number;
}

/** A priority level as the metrics see it. */
export interface LevelView {
  level: string;
  executing: number;
  seatsInUse: number;
  waiting: number;
  /** Seats: nominal (its share), current (after lending or borrowing), and the bounds of current. */
  nominal: number;
  current: number;
  lower: number;
  upper: number;
}

export const WAIT_BUCKETS = [0, 0.005, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30];

/** An admitted request: release() gives its seat back (once). */
export interface Ticket {
  schemaUid: string;
  levelUid: string;
  readonly release: (this: void) => void;
}

/** An admission still waiting in a queue: cancel() when its client goes away (rejects it at once). */
export type WaitingTicket = Promise<Ticket> & { cancel(this: void): void };

export interface Classification {
  schema: FlowSchema;
  level: Level;
  /** The flow within the schema (its distinguisher's value); the flow's key is made only if it must queue. */
  distinguisher: string;
}

/** Upstream's estimated service time of one seat (ms): a request's work in fair queuing is counted in it. */
const SERVICE_MS = 3;
/** Upstream's priorityLevelMaxSeatsPercent: a request takes at most 15 % of its level's seats (and its hand's share). */
const MAX_SEATS_FRACTION = 0.15;

/** How many times an in-process call rejected with 429 is tried again (client-go's maxRetries). */
const IN_PROCESS_RETRIES = 10;

/** The wait a 429 asks for, or undefined for any other error. */
function retryAfterMs(err: unknown): number | undefined {
  if (!(err instanceof errors.ApiError) || err.code !== 429) return undefined;
  return Math.max(1, err.details?.retryAfterSeconds ?? 1) * 1000;
}

export class FlowControl {
  private schemas: FlowSchema[] = [];
  private readonly levels = new Map<string, Level>();
  private readonly pairs = new Map<string, PairStats>();
  private unwatch: (() => void)[] = [];
  private pendingSync = false;
  private stopped = false;
  /** Demand sampling and seat division (borrowing). */
  private readonly timers: NodeJS.Timeout[] = [];
  /** The watches open (HTTP and in-process): a write's extra seats count those it notifies. */
  readonly watchers = new WatchTracker();
  private readonly estimatorDeps: {
    objectCount(group: string, resource: string): number | undefined;
    watchers: WatchTracker;
  };

  constructor(
    private readonly deps: {
      store(group: string, plural: string): Store;
      log: Logger;
      /** Objects stored of a resource (the watch cache's count), for the seats of a LIST. */
      objectCount?(group: string, resource: string): number | undefined;
    },
    /** The server's concurrency limit: --max-requests-inflight + --max-mutating-requests-inflight. */
    readonly serverConcurrency: number,
    /** How long a request may wait in a queue (ms). */
    readonly waitLimitMs: number,
  ) {
    this.estimatorDeps = {
      objectCount: (g, r) => this.deps.objectCount?.(g, r),
      watchers: this.watchers,
    };
    // Until the objects are stored (and if they can't be): upstream's configuration itself.
    this.apply(
      [...MANDATORY_FLOW_SCHEMAS, ...SUGGESTED_FLOW_SCHEMAS],
      [...MANDATORY_PRIORITY_LEVELS, ...SUGGESTED_PRIORITY_LEVELS],
    );
  }

  /** Create the configuration objects, then follow them. */
  async start(): Promise<void> {
    this.timers.push(
      setInterval(() => this.sampleDemand(), SAMPLE_PERIOD_MS),
      setInterval(() => this.rebalance(), ADJUSTMENT_PERIOD_MS),
    );
    for (const t of this.timers) t.unref();
    const onEvent = (_ev: CacheEvent) => this.scheduleSync();
    for (const plural of ['flowschemas', 'prioritylevelconfigurations']) {
      const cache = this.deps.store(GROUP, plural).cache;
      this.unwatch.push(cache.watch(cache.revision, { onEvent }));
    }
    await this.sync();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    for (const u of this.unwatch.splice(0)) u();
  }

  private scheduleSync(): void {
    if (this.pendingSync || this.stopped) return;
    this.pendingSync = true;
    setImmediate(() => {
      this.pendingSync = false;
      this.sync().catch((err) => {
        this.deps.log.error({ err }, 'flow control configuration sync failed; retrying');
        setTimeout(() => this.scheduleSync(), 1000).unref();
      });
    });
  }

  private stored<T>(plural: string): T[] {
    return this.deps
      .store(GROUP, plural)
      .cache.list()
      .map((s) => s.obj as T);
  }

  /** The configuration producer's pass, then the dispatcher's configuration from the stored objects. */
  async sync(): Promise<void> {
    if (this.stopped) return;
    await this.ensure('prioritylevelconfigurations', MANDATORY_PRIORITY_LEVELS, SUGGESTED_PRIORITY_LEVELS);
    await this.ensure('flowschemas', MANDATORY_FLOW_SCHEMAS, SUGGESTED_FLOW_SCHEMAS);
    const levels = this.stored<PriorityLevelConfiguration>('prioritylevelconfigurations');
    const schemas = this.stored<FlowSchema>('flowschemas');
    await this.markDangling(schemas, new Set(levels.map((l) => l.metadata!.name!)));
    this.apply(schemas, levels);
  }

  /**
   * Mandatory objects: created when missing, their spec put back when changed (the exempt
   * level's `exempt` settings are the operator's to tune, as upstream). Suggested ones: created
   * when missing, their spec updated only while annotated autoupdate-spec "true".
   */
  private async ensure(plural: string, mandatory: { metadata?: any; spec?: any }[], suggested: typeof mandatory) {
    const store = this.deps.store(GROUP, plural);
    const ctx = writeContext('api-priority-and-fairness-config-producer-v1');
    const writes: Promise<unknown>[] = [];
    for (const [objs, isMandatory] of [
      [mandatory, true],
      [suggested, false],
    ] as const) {
      for (const want of objs) {
        const name = want.metadata.name as string;
        const cur = store.tryGet(undefined, name)?.obj;
        if (!cur) {
          const obj = deepCopy(want);
          obj.metadata = { name, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } };
          writes.push(store.create(obj, ctx).catch((err) => ignoreConflict(err)));
          continue;
        }
        const wantSpec = deepCopy(want.spec);
        if (isMandatory && name === EXEMPT && plural === 'prioritylevelconfigurations' && cur.spec?.exempt)
          wantSpec.exempt = cur.spec.exempt;
        const auto = cur.metadata?.annotations?.[AUTOUPDATE_ANNOTATION] === 'true';
        if ((isMandatory || auto) && !deepEqual(cur.spec, wantSpec)) {
          writes.push(
            store
              .update(
                undefined,
                name,
                (c) => ({
                  ...deepCopy(c.obj),
                  metadata: {
                    ...deepCopy(c.obj.metadata),
                    annotations: { ...c.obj.metadata.annotations, [AUTOUPDATE_ANNOTATION]: 'true' },
                  },
                  spec: wantSpec,
                }),
                ctx,
              )
              .catch((err) => ignoreConflict(err)),
          );
        }
      }
    }
    await Promise.all(writes);
  }

  /** Each FlowSchema's Dangling condition: whether its priority level is missing. */
  private async markDangling(schemas: FlowSchema[], levels: Set<string>): Promise<void> {
    const store = this.deps.store(GROUP, 'flowschemas');
    const ctx = writeContext('api-priority-and-fairness-config-consumer-v1', 'status');
    const writes: Promise<unknown>[] = [];
    for (const fs of schemas) {
      const pl = fs.spec?.priorityLevelConfiguration?.name ?? '';
      const missing = !levels.has(pl);
      const status = missing ? 'True' : 'False';
      const cur = fs.status?.conditions?.find((c) => c.type === 'Dangling');
      if (cur?.status === status) continue;
      const cond: FlowSchemaCondition = {
        type: 'Dangling',
        status,
        lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        reason: missing ? 'NotFound' : 'Found',
        message: missing
          ? `This FlowSchema references the PriorityLevelConfiguration object named "${pl}" but there is no such object`
          : `This FlowSchema references the PriorityLevelConfiguration object named "${pl}" and it exists`,
      };
      writes.push(
        store
          .update(
            undefined,
            fs.metadata!.name!,
            (c) => {
              const obj = deepCopy(c.obj);
              const conds = (obj.status?.conditions ?? []).filter((x: FlowSchemaCondition) => x.type !== 'Dangling');
              obj.status = { ...obj.status, conditions: [...conds, cond] };
              return obj;
            },
            ctx,
          )
          .catch((err) => ignoreConflict(err)),
      );
    }
    await Promise.all(writes);
  }

  /** The dispatcher's configuration: schemas in matching order, levels with their seats. */
  private apply(schemas: FlowSchema[], levels: PriorityLevelConfiguration[]): void {
    let shares = 0;
    for (const l of levels) shares += commons(l).shares;
    const seen = new Set<string>();
    for (const l of levels) {
      const name = l.metadata!.name!;
      seen.add(name);
      const exempt = l.spec?.type === 'Exempt';
      let level = this.levels.get(name);
      if (!level) {
        level = {
          name,
          uid: '',
          exempt,
          running: 0,
          maxSeats: 0,
          nominal: 0,
          lower: 0,
          upper: 0,
          current: -1,
          stats: new DemandStats(),
          demand: new SeatDemand(),
          peak: 0,
          pairs: new Map(),
        };
        this.levels.set(name, level);
      }
      level.uid = l.metadata?.uid ?? '';
      level.exempt = exempt;
      // Upstream's NominalCL, and the bounds borrowing keeps its current limit within.
      const c = commons(l);
      const nominal = Math.ceil((this.serverConcurrency * c.shares) / Math.max(shares, 1));
      const lendable = Math.round((nominal * c.lendablePercent) / 100);
      const borrowing =
        c.borrowingLimitPercent === undefined
          ? this.serverConcurrency
          : Math.round((nominal * c.borrowingLimitPercent) / 100);
      level.nominal = nominal;
      level.lower = nominal - lendable;
      level.upper = nominal + borrowing;
      // A new level starts with its nominal seats less half what it may lend.
      if (level.current < 0) level.current = nominal - Math.floor(lendable / 2);
      if (exempt) {
        level.set = undefined;
        continue;
      }
      const q = l.spec?.limited?.limitResponse;
      const queuing = q?.type === 'Queue' && q.queuing ? (q.queuing as Required<typeof q.queuing>) : undefined;
      // Upstream: max(1, min(15 % of the level's seats, its seats / handSize)); a level that does not queue has none set.
      level.maxSeats = queuing
        ? Math.max(1, Math.min(Math.ceil(nominal * MAX_SEATS_FRACTION), Math.floor(nominal / queuing.handSize)))
        : 0;
      if (level.set) level.set.configure(seatLimit(level), queuing);
      else level.set = new QueueSet(seatLimit(level), queuing, this.waitLimitMs);
    }
    for (const [name, level] of this.levels) {
      // A level that is gone keeps serving what it admitted; new requests no longer reach it.
      if (!seen.has(name) && (level.set ? level.set.executing === 0 && level.set.waiting === 0 : level.running === 0))
        this.levels.delete(name);
    }
    this.schemas = schemas.filter((s) => seen.has(s.spec?.priorityLevelConfiguration?.name ?? '')).sort(byPrecedence);
    // As upstream, a new configuration divides the seats anew at once.
    this.rebalance();
  }

  /** Each level's demand now, one sample of its period's average (every 100 ms). */
  sampleDemand(): void {
    for (const l of this.levels.values()) l.demand.sample(demandOf(l));
  }

  /**
   * Seat borrowing (borrowing.ts), every 10 s and after each configuration change: each level's
   * demand in the period just ended sets its target, and the server's seats (the sum of the
   * nominal ones) are divided between the levels within their bounds, in proportion to their targets.
   */
  rebalance(): void {
    const levels = [...this.levels.values()];
    let total = 0;
    const items = levels.map((l) => {
      total += l.nominal;
      const now = demandOf(l);
      l.stats.update(l.demand.reset(now, l.set ? l.set.peakDemand : l.peak));
      if (l.set) l.set.peakDemand = now;
      else l.peak = now;
      const lower = Math.max(l.lower, Math.min(l.nominal, l.stats.highWatermark));
      return { lower, upper: l.upper, target: Math.max(lower, l.stats.smoothed) };
    });
    const shares = allocate(total, items);
    levels.forEach((l, i) => {
      l.current = Math.round(shares[i]);
      l.set?.setLimit(seatLimit(l));
    });
  }
  /** The schema, level and flow of a request (catch-all when nothing matches). */
  classify(a: Attributes): Classification {
    for (const schema of this.schemas) {
      if (!schemaMatches(schema, a)) continue;
      const level = this.levels.get(schema.spec!.priorityLevelConfiguration.name)!;
      return { schema, level, distinguisher: distinguisher(schema, a) };
    }
    const schema = MANDATORY_FLOW_SCHEMAS[1];
    return { schema, level: this.levels.get(CATCH_ALL)!, distinguisher: a.user.name };
  }

  /** The counters of a (level, schema) pair: from the level's own cache, else made (or found) once. */
  private pairOf(level: Level, schema: string): PairStats {
    let p = level.pairs.get(schema);
    if (!p) level.pairs.set(schema, (p = this.pair(level.name, schema)));
    return p;
  }

  private pair(level: string, schema: string): PairStats {
    const key = `${level}\0${schema}`;
    let p = this.pairs.get(key);
    if (!p) {
      p = {
        level,
        schema,
        dispatched: 0,
        executing: 0,
        executingSeats: 0,
        waiting: 0,
        rejected: new Map(),
        waitBuckets: new Float64Array(WAIT_BUCKETS.length + 1),
        waitSum: 0,
        waitCount: 0,
      };
      this.pairs.set(key, p);
    }
    return p;
  }

  /**
   * The seats a classified request takes (upstream's WorkEstimator, workestimate.ts); `list`: its
   * list options, read only for a list or watch. Exempt levels count no seats.
   */
  estimate(c: Classification, a: Attributes, list?: ListParams | URLSearchParams): WorkEstimate {
    if (c.level.exempt || !c.level.set) return ONE_SEAT;
    return estimateWork(this.estimatorDeps, a, c.level.maxSeats, list);
  }

  /** Classify, estimate and admit (see admit). */
  admitRequest(a: Attributes, list?: ListParams): Ticket | WaitingTicket {
    const c = this.classify(a);
    return this.admit(c, this.estimate(c, a, list));
  }

  /**
   * Admit a classified request: a ticket now, or a promise of one when it must wait, rejected with
   * 429 TooManyRequests when its queue is full (at once), it waited too long, or it was cancelled.
   */
  admit(c: Classification, work: WorkEstimate = ONE_SEAT): Ticket | WaitingTicket {
    const { schema, level } = c;
    const stats = this.pairOf(level, schema.metadata!.name!);
    const schemaUid = schema.metadata?.uid ?? '';
    const levelUid = level.uid;
    if (level.exempt || !level.set) {
      if (++level.running > level.peak) level.peak = level.running;
      dispatched(stats, 0, 1);
      return ticket(schemaUid, levelUid, stats, 1, () => level.running--);
    }
    const set = level.set;
    const seats = Math.max(work.initialSeats, work.finalSeats);
    const linger = work.finalSeats > 0 ? work.additionalLatencyMs : 0;
    const free = linger > 0 || seats !== 1 ? () => set.release(seats, linger) : () => set.release();
    if (set.tryAcquire(seats)) {
      dispatched(stats, 0, seats);
      return ticket(schemaUid, levelUid, stats, seats, free);
    }
    const got = set.enqueue(
      `${schema.metadata!.name}\0${c.distinguisher}`,
      seats,
      work === ONE_SEAT ? 1 : work.initialSeats + (work.finalSeats * work.additionalLatencyMs) / SERVICE_MS,
    );
    const started = performance.now();
    stats.waiting++;
    const waiting = got.then(
      () => {
        stats.waiting--;
        dispatched(stats, (performance.now() - started) / 1000, seats);
        return ticket(schemaUid, levelUid, stats, seats, free);
      },
      (err: unknown) => {
        stats.waiting--;
        const reason = err instanceof Rejected ? err.reason : 'cancelled';
        stats.rejected.set(reason, (stats.rejected.get(reason) ?? 0) + 1);
        throw errors.tooManyRequests(TOO_MANY, 1);
      },
    );
    return Object.assign(waiting, { cancel: got.cancel });
  }

  /**
   * Run an in-process call (a component's client) once admitted, its seats held until it settles.
   * `name`: the object (for a list or watch, the one its field selector names); `list`: a list's options.
   */
  runInProcess<T>(
    user: UserInfo,
    verb: string,
    t: { resource: { group: string; version: string; plural: string }; subresource?: string },
    namespace: string,
    fn: () => Promise<T>,
    name = '',
    list?: ListParams,
  ): Promise<T> {
    const a: Attributes = {
      user,
      verb,
      resourceRequest: true,
      namespace,
      apiGroup: t.resource.group,
      apiVersion: t.resource.version,
      resource: t.resource.plural,
      subresource: t.subresource ?? '',
      name,
      path: '',
    };
    // (A rejection, at once or after waiting, is a rejected promise: admit never throws.)
    const got = this.admitRequest(a, list);
    if (isPromise(got))
      return got.then(
        (ticket) => fn().finally(ticket.release),
        (err: unknown) => this.retryInProcess(a, list, fn, err, 1),
      );
    return fn().finally(got.release);
  }

  /**
   * A rejected in-process call is tried again after the 429's Retry-After, as client-go's REST
   * client retries a 429 (up to IN_PROCESS_RETRIES times) before its caller sees the error.
   */
  private async retryInProcess<T>(
    a: Attributes,
    list: ListParams | undefined,
    fn: () => Promise<T>,
    err: unknown,
    attempt: number,
  ): Promise<T> {
    for (;;) {
      const wait = retryAfterMs(err);
      if (wait === undefined || attempt > IN_PROCESS_RETRIES) throw err;
      await new Promise((r) => setTimeout(r, wait));
      attempt++;
      let ticket: Ticket;
      try {
        ticket = await this.admitRequest(a, list);
      } catch (e) {
        err = e;
        continue;
      }
      return fn().finally(ticket.release);
    }
  }

  /** The metrics' view: per level, what runs and what waits; per pair, the counters. */
  levelStats(): LevelView[] {
    return [...this.levels.values()].map((l) => ({
      level: l.name,
      executing: l.set ? l.set.executing : l.running,
      seatsInUse: l.set ? l.set.seatsInUse : l.running,
      waiting: l.set?.waiting ?? 0,
      nominal: l.nominal,
      current: l.current,
      lower: l.lower,
      upper: l.upper,
    }));
  }

  pairStats(): Iterable<PairStats> {
    return this.pairs.values();
  }
}

function dispatched(p: PairStats, seconds: number, seats: number): void {
  p.dispatched++;
  p.executing++;
  p.executingSeats += seats;
  let i = 0;
  while (i < WAIT_BUCKETS.length && seconds > WAIT_BUCKETS[i]) i++;
  p.waitBuckets[i]++;
  p.waitSum += seconds;
  p.waitCount++;
}

function ticket(schemaUid: string, levelUid: string, p: PairStats, seats: number, free: () => void): Ticket {
  let released = false;
  return {
    schemaUid,
    levelUid,
    release: () => {
      if (released) return;
      released = true;
      p.executing--;
      p.executingSeats -= seats;
      free();
    },
  };
}

/** A level's shares and lending settings, whichever its type (upstream's plSpecCommons). */
function commons(l: PriorityLevelConfiguration): {
  shares: number;
  lendablePercent: number;
  borrowingLimitPercent?: number;
} {
  if (l.spec?.type === 'Exempt')
    return {
      shares: l.spec.exempt?.nominalConcurrencyShares ?? 0,
      lendablePercent: l.spec.exempt?.lendablePercent ?? 0,
    };
  const lim = l.spec?.limited;
  return {
    shares: lim?.nominalConcurrencyShares ?? 0,
    lendablePercent: lim?.lendablePercent ?? 0,
    borrowingLimitPercent: lim?.borrowingLimitPercent ?? undefined,
  };
}

/** A level's seat demand now: seats in use plus seats waiting (an exempt level: requests running). */
const demandOf = (l: Level) => (l.set ? l.set.seatsInUse + l.set.seatsWaiting : l.running);

/** The seats a Limited level's queue set runs: its current limit, at least one (see docs/security.md). */
const seatLimit = (l: Level) => Math.max(1, l.current);

function ignoreConflict(err: unknown): void {
  if (err instanceof errors.ApiError && (err.code === 409 || err.code === 404)) return;
  throw err;
}
