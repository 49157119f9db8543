// The watch cache: one backend watch per storage prefix feeds an in-memory copy of every live
// object plus a window of recent events. Lists, gets and watches are served from it, so N
// watchers cost one storage watch, and each event is serialised once for all of them.
//
// Consistency: backends dispatch a commit's events before acknowledging the write, so the cache
// already holds every acknowledged write; its state equals the store's at the store's current
// revision.
import type { Backend, StorageEvent, Unsubscribe } from './interface.js';
import { StorageError } from './interface.js';
import { copyWith, deepCopy, deepFreeze } from '../machinery/objects.js';
import { applyDelta, encodeDelta } from './textdelta.js';
import { joinText, shareMetadataParts, splitManagedFields } from './sharedtext.js';

/** How long one turn of the event loop may spend handing events to watchers (see flushFanout). */
const FANOUT_SLICE_MS = 20;

export interface StoredObject {
  readonly key: string;
  /**
   * Parsed object with metadata.resourceVersion set. Shared: never mutate (it is frozen once
   * handed to an informer, see sharedObject).
   */
  readonly obj: any;
  /** JSON text of `obj`, computed once. */
  readonly json: string;
  readonly rev: number;
  readonly createRev: number;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent {
  readonly type: EventType;
  readonly rev: number;
  /** ADDED/MODIFIED: the new state. DELETED: the last state, with resourceVersion = rev. */
  readonly cur: StoredObject;
  /** MODIFIED/DELETED: the state before. */
  readonly prev?: StoredObject;
  readonly at: number;
}

export interface CacheWatcher {
  /** Called for each event after `fromRev`, in order. Return false to stop. */
  onEvent(ev: CacheEvent): void;
}

export type Decoder = (key: string, value: string, rev: number) => any;

export interface WatchCacheOptions {
  /** How long events are kept for watches that resume from a resourceVersion (ms). */
  historyMs?: number;
  /**
   * At most this many events are kept per cache (upstream's watch cache upper bound, 100 × 1024):
   * with thousands of nodes renewing leases, time alone would keep millions.
   */
  maxEvents?: number;
}

export function makeStored(key: string, obj: any, rev: number, createRev: number, json?: string): StoredObject {
  return { key, obj, json: json ?? JSON.stringify(obj), rev, createRev };
}

/** An object's metadata without parsing it again where the cache keeps it apart (CachedObject). */
export function metadataOf(s: StoredObject): any {
  return s instanceof CachedObject ? s.metadata : s.obj?.metadata;
}

/**
 * What label and field selectors read of an object's metadata (its labels, name, namespace):
 * without parsing it again, and possibly without managedFields.
 */
export function selectableMetadataOf(s: StoredObject): any {
  return s instanceof CachedObject ? s.selectable : s.obj?.metadata;
}

/**
 * A text that begins as the stored JSON text does, at least up to its metadata (for reading
 * apiVersion and kind at its head), without putting a text kept in parts together.
 */
export function headOf(s: StoredObject): string {
  return s instanceof CachedObject ? s.body : s.json;
}

/**
 * A private, mutable copy of a stored version's object, for a writer to change: deepCopy is
 * about ten times as fast as structuredClone (pods/binding copied each pod it bound with it).
 */
export function privateCopyOf(s: StoredObject): any {
  return deepCopy(s.obj);
}

/**
 * The object for a reader that neither changes it nor reads its managedFields (field selectors,
 * authorizers and admission looking through a namespace's pods): the view informers share when
 * the cache keeps one, so that the object is not parsed again for managedFields nobody reads.
 */
export function readOnlyViewOf(s: StoredObject): any {
  return s instanceof CachedObject ? s.view : s.obj;
}

/**
 * The object as a reader that neither changes it nor reads its managedFields sees it
 * (readOnlyViewOf), when the cache holds it parsed; undefined when reading it would parse its
 * JSON text (a reader that needs only some of it may then parse only those parts).
 */
export function keptObjectOf(s: StoredObject): any {
  if (s instanceof CachedObject) return s.kept;
  return s instanceof PastObject ? undefined : s.obj;
}

/**
 * A live version in the watch cache. Its JSON text is what the cache keeps for good (history
 * shares it; its managedFields member apart, one copy for every version with the same text:
 * sharedtext.ts), with its parsed metadata without managedFields (what selectors and metadata-only
 * informers read). The whole parsed object is kept while its event is being delivered, and for
 * good once an informer shares it (`pin`: the informer holds it anyway); otherwise only weakly,
 * and parsed again when read after the collector took it: a ConfigMap or Secret nobody informs on
 * costs its JSON text and metadata, not a second copy of its data. Informers that leave
 * managedFields out (all of the server's) share a view without them, and only that is kept: a
 * pod's parsed managedFields (3–4 KiB of heap for a controller's and a kubelet's entries) are
 * parsed again from the JSON text for the rare reader that wants them.
 *
 * Once a newer version or a deletion supersedes it (`retire`), it keeps its JSON text only: the
 * informers let go of it when that event reaches them, and whatever still refers to the old
 * version (a list's pagination snapshot, a slow watcher's queue) must not keep the parsed object
 * alive with it, or a mass deletion would free nothing while those last (the heap guard's
 * scale-down of thousands of pods).
 */
export class CachedObject implements StoredObject {
  /** The JSON text, without its managedFields member when `member` is set (see sharedtext.ts). */
  readonly body: string;
  /** Where the managedFields member goes back into `body`. */
  readonly cut: number;
  /** The managedFields member's text, shared by the versions that have the same one. */
  readonly member: string | undefined;
  private held: any;
  private weak: WeakRef<any> | undefined;
  private pinned = false;
  private retired = false;
  /** The parsed metadata; without managedFields where it had them (`trimmed`). */
  private meta: any;
  private trimmed = false;
  /** The frozen view without managedFields that informers share (see shared). */
  private lean: any;
  /** This version in the history (the next version's event makes it a delta, see PastObject). */
  past: PastObject | undefined;

  constructor(
    readonly key: string,
    json: string,
    readonly rev: number,
    readonly createRev: number,
    private readonly decode: Decoder,
    obj: any,
    delivering: boolean,
  ) {
    const metadata = obj.metadata;
    const split = metadata?.managedFields !== undefined ? splitManagedFields(json) : undefined;
    this.body = split?.body ?? json;
    this.cut = split?.cut ?? 0;
    this.member = split?.member;
    if (metadata?.managedFields !== undefined) {
      this.meta = withoutManagedFields(metadata);
      shareMetadataParts(this.meta);
      this.trimmed = true;
    } else {
      this.meta = metadata;
    }
    if (delivering) this.held = obj;
    else this.weak = new WeakRef(obj);
  }

  /** The JSON text as stored (put together again when its managedFields text is shared). */
  get json(): string {
    return joinText(this.body, this.cut, this.member);
  }

  /** The parsed metadata, managedFields included. */
  get metadata(): any {
    return this.meta !== undefined && !this.trimmed ? this.meta : this.obj?.metadata;
  }

  /** The parsed metadata, possibly without managedFields (see selectableMetadataOf). */
  get selectable(): any {
    return this.meta ?? this.obj?.metadata;
  }

  /** See keptObjectOf. */
  get kept(): any {
    return this.lean ?? this.held ?? this.weak?.deref();
  }

  /** See readOnlyViewOf. */
  get view(): any {
    return this.lean ?? this.obj;
  }

  get obj(): any {
    if (this.held !== undefined) return this.held;
    let obj = this.weak?.deref();
    if (obj === undefined) {
      obj = this.decode(this.key, this.json, this.rev);
      // The same metadata object as before: informers may share it.
      if (obj?.metadata && this.meta && !this.trimmed) obj.metadata = this.meta;
      this.weak = new WeakRef(obj);
    }
    return obj;
  }

  /** Its event reached every watcher: keep the object only while something else does. */
  settle(): void {
    if (this.pinned || this.held === undefined) return;
    this.weak = new WeakRef(this.held);
    this.held = undefined;
  }

  /** Shared with an informer, which keeps it anyway: keep it too rather than parse it again. */
  pin(): void {
    if (this.pinned || this.retired) return;
    this.held = this.obj;
    this.weak = undefined;
    this.pinned = true;
  }

  /** The object as informers share it: frozen, and without managedFields if they leave them out. */
  shared(omitManagedFields: boolean): any {
    if (!omitManagedFields || !this.trimmed) {
      this.pin();
      return deepFreeze(this.obj);
    }
    if (this.lean !== undefined) return this.lean;
    const lean = leanView(this.obj, this.meta);
    // Kept like a pinned object, but without the managedFields the whole one holds.
    if (!this.retired) this.lean = lean;
    return lean;
  }

  /** The metadata without managedFields, frozen, as metadata-only informers share it. */
  sharedMetadata(): any {
    return deepFreeze(this.meta ?? leanMetadata(this.obj.metadata));
  }

  /** Superseded (updated or deleted): keep the JSON text, and the object only while others do. */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    this.pinned = false;
    if (this.held !== undefined) this.weak = new WeakRef(this.held);
    this.held = undefined;
    this.meta = undefined;
    this.lean = undefined;
  }
}

function withoutManagedFields(metadata: any): any {
  const { managedFields: _dropped, ...rest } = metadata;
  return rest;
}

/** Views without managedFields, made once per version (see sharedObject). */
const leanViews = new WeakMap<object, any>();

/** A frozen view of `obj` with `metadata` (its metadata without managedFields), once per object. */
function leanView(obj: any, metadata: any): any {
  let lean = leanViews.get(obj);
  if (lean === undefined) {
    lean = deepFreeze(copyWith(obj, 'metadata', metadata ?? leanMetadata(obj.metadata)));
    leanViews.set(obj, lean);
  }
  return lean;
}

/** `metadata` without managedFields, once per metadata object. */
function leanMetadata(metadata: any): any {
  let lean = leanViews.get(metadata);
  if (lean === undefined) {
    lean = withoutManagedFields(metadata);
    leanViews.set(metadata, lean);
  }
  return lean;
}

/**
 * How many versions of an object in a row the history keeps as deltas (PastObject.supersede):
 * reading one applies at most this many.
 */
const DELTA_RUN = 8;

/**
 * A past state kept in history only by its JSON text (shared with the event fanned out when it
 * happened, and with the live version while it is one); the object is parsed again on access, for
 * the rare watch resuming from the past. Keeps the history from pinning every parsed version (and
 * its encoded watch lines) in memory.
 *
 * Once a newer version supersedes it, it keeps only its difference from that version (a pod's
 * versions differ in their status, a lease's in its renewTime): during a rollout the history held
 * each version of every pod whole, 2–3 KiB each. Every DELTA_RUN-th version of an object stays
 * whole, so reading a past version applies at most DELTA_RUN deltas.
 */
class PastObject implements StoredObject {
  /**
   * The JSON text (without its managedFields member while `member` is set, as the live version
   * keeps it), or (with `next`) its delta against next's.
   */
  private text: string;
  private next: PastObject | undefined;
  private member: string | undefined;
  private cut: number;

  constructor(
    readonly key: string,
    text: string,
    readonly rev: number,
    readonly createRev: number,
    private readonly decode: Decoder,
    /** Versions of this object before this one in the history's current run (see DELTA_RUN). */
    readonly seq: number,
    cut = 0,
    member?: string,
  ) {
    this.text = text;
    this.cut = cut;
    this.member = member;
  }

  get json(): string {
    return this.next === undefined ? joinText(this.text, this.cut, this.member) : applyDelta(this.next.json, this.text);
  }

  get obj(): any {
    return this.decode(this.key, this.json, this.rev);
  }

  /** `next` is the version after this one: keep only the difference from it. */
  supersede(next: PastObject): void {
    if (this.next !== undefined || this.seq % DELTA_RUN === DELTA_RUN - 1) return;
    const delta = encodeDelta(this.json, next.json);
    if (delta.length >= this.text.length) return;
    this.text = delta;
    this.next = next;
    this.member = undefined;
    this.cut = 0;
  }
}

/** A history record of a stored version, sharing its text (and managedFields member) with it. */
function pastOf(s: StoredObject, decode: Decoder, seq: number): PastObject {
  return s instanceof CachedObject
    ? new PastObject(s.key, s.body, s.rev, s.createRev, decode, seq, s.cut, s.member)
    : new PastObject(s.key, s.json, s.rev, s.createRev, decode, seq);
}

/**
 * A stored version's object as in-process informers share it, instead of a copy each: the watch
 * cache's own object, deeply frozen the first time it is handed out, or (`omitManagedFields`) a
 * frozen view of it without metadata.managedFields, which copies only the top level and metadata
 * and is made once per version for every informer that leaves them out. (Only what is handed out
 * is frozen: managedFields, which no informer gets, are not walked.)
 */
export function sharedObject(s: StoredObject, omitManagedFields: boolean): any {
  if (s instanceof CachedObject) return s.shared(omitManagedFields);
  const obj = s.obj;
  if (!omitManagedFields || obj?.metadata?.managedFields === undefined) return deepFreeze(obj);
  return leanView(obj, undefined);
}

/** As sharedObject, for metadata-only informers: the metadata alone (the object is not kept). */
export function sharedMetadata(s: StoredObject, omitManagedFields: boolean): any {
  if (omitManagedFields && s instanceof CachedObject) return s.sharedMetadata();
  const metadata = metadataOf(s);
  if (!omitManagedFields || metadata?.managedFields === undefined) return deepFreeze(metadata);
  return deepFreeze(leanMetadata(metadata));
}

const META = '"metadata":{';

/**
 * The JSON of a stored value with its resourceVersion, without re-serialising: values are stored
 * with metadata right after apiVersion and kind, so the first `"metadata":{` is the object's own.
 */
export function spliceResourceVersion(value: string, rev: number): string | undefined {
  const i = value.indexOf(META);
  if (i < 0 || i > 200) return undefined;
  const at = i + META.length;
  return `${value.slice(0, at)}"resourceVersion":"${rev}"${value[at] === '}' ? '' : ','}${value.slice(at)}`;
}

/**
 * The history watches can resume from: upstream's watch cache keeps at least its
 * eventFreshDuration (75 s) of events, growing up to 102,400; we keep twice that. Ten minutes
 * (before) held every version of every object written in them as JSON: at 1,000 nodes and 5,000
 * pods, 150 of the server's 375 MiB of live heap (docs/benchmarks.md).
 */
export const DEFAULT_HISTORY_MS = 150_000;

/** What stands in the history array for an event trimmed from it (before the array is compacted). */
const DROPPED: CacheEvent = Object.freeze({
  type: 'DELETED',
  rev: 0,
  cur: makeStored('', null, 0, 0, 'null'),
  at: 0,
});

/** The history kept while memory is short (shedHistory). */
const SHED_HISTORY_MS = 30_000;

/**
 * The sorted keys of each namespace that has been listed (the list prefix `/registry/pods/ns/`),
 * made at its first list and kept as keys come and go. While pods are created everywhere, the
 * cache's one sorted array of every key goes stale with each create, and a namespace's list had
 * to pick its keys out of all of them (150,000 pods); with this it reads only its own.
 */
class NamespaceKeys {
  private readonly byPrefix = new Map<string, { keys: Set<string>; sorted: string[] | null }>();
  /** Prefixes with keys below their own level: not one namespace's, never indexed. */
  private readonly deep = new Set<string>();

  /** A namespace's keys, sorted; undefined when `prefix` is not one namespace's. */
  sorted(prefix: string, items: Map<string, StoredObject>): string[] | undefined {
    let ns = this.byPrefix.get(prefix);
    if (!ns) {
      if (!prefix.endsWith('/') || this.deep.has(prefix) || this.byPrefix.size >= MAX_INDEXED_NAMESPACES)
        return undefined;
      const keys = new Set<string>();
      for (const k of items.keys()) {
        if (!k.startsWith(prefix)) continue;
        if (k.indexOf('/', prefix.length) !== -1) {
          this.deep.add(prefix);
          return undefined;
        }
        keys.add(k);
      }
      ns = { keys, sorted: null };
      this.byPrefix.set(prefix, ns);
    }
    return (ns.sorted ??= [...ns.keys].sort());
  }

  added(key: string): void {
    const dir = key.lastIndexOf('/');
    const ns = this.byPrefix.get(key.slice(0, dir + 1));
    if (ns && !ns.keys.has(key)) {
      ns.keys.add(key);
      ns.sorted = null;
    }
    // A key below an indexed prefix's own level: that prefix is not one namespace's after all.
    for (let i = key.lastIndexOf('/', dir - 1); i > 0; i = key.lastIndexOf('/', i - 1)) {
      const up = key.slice(0, i + 1);
      if (this.byPrefix.delete(up)) this.deep.add(up);
    }
  }

  deleted(key: string): void {
    const ns = this.byPrefix.get(key.slice(0, key.lastIndexOf('/') + 1));
    if (ns?.keys.delete(key)) ns.sorted = null;
  }
}

/** Namespaces indexed per resource at most (past it, a namespace's list scans the whole cache). */
const MAX_INDEXED_NAMESPACES = 10_000;

export class WatchCache {
  readonly items = new Map<string, StoredObject>();
  private sorted: string[] | null = null;
  private readonly namespaceKeys = new NamespaceKeys();
  private hints = new Map<string, { value: string; obj: any }>();
  private history: CacheEvent[] = [];
  private historyStart = 0;
  /** Watches may resume from any revision >= this one. */
  private oldestResumable = 0;
  private watchers = new Set<{ watcher: CacheWatcher; lastRev: number }>();
  private fanout: CacheEvent[] = [];
  private fanoutScheduled = false;
  private unsubscribe?: Unsubscribe;
  private readonly historyMs: number;
  private readonly maxEvents: number;
  private ready = false;
  private shedding = false;

  constructor(
    private readonly backend: Backend,
    readonly prefix: string,
    private readonly decode: Decoder,
    opts: WatchCacheOptions = {},
  ) {
    this.historyMs = opts.historyMs ?? DEFAULT_HISTORY_MS;
    this.maxEvents = opts.maxEvents ?? 100 * 1024;
  }

  async start(): Promise<void> {
    const listed = await this.backend.list(this.prefix);
    for (const kv of listed.items) {
      const obj = this.decode(kv.key, kv.value, kv.modRevision);
      this.items.set(
        kv.key,
        new CachedObject(kv.key, JSON.stringify(obj), kv.modRevision, kv.createRevision, this.decode, obj, false),
      );
    }
    const from = this.backend.compactedRevision();
    this.oldestResumable = from;
    // Replay the stored history (for watches resuming across a restart) and go on live. Events
    // at or below the listed revision are already reflected in `items`: they only fill history.
    this.unsubscribe = await this.backend.watch(this.prefix, from, (events) => this.apply(events, listed.revision));
    this.ready = true;
  }

  stop(): void {
    this.unsubscribe?.();
    this.watchers.clear();
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** The revision the cache is consistent at (the store's current revision). */
  get revision(): number {
    return this.backend.currentRevision();
  }

  get oldestResumableRevision(): number {
    return this.oldestResumable;
  }

  private apply(events: StorageEvent[], listedRev: number) {
    const now = Date.now();
    for (const e of events) {
      const replay = e.revision <= listedRev;
      let ev: CacheEvent;
      if (e.type === 'put') {
        const cur = replay
          ? makeStored(e.key, this.decode(e.key, e.value, e.revision), e.revision, e.createRevision)
          : this.storedFromEvent(e);
        const prevKnown = replay ? undefined : this.items.get(e.key);
        const prev =
          prevKnown ?? (e.prevValue !== undefined && e.revision !== e.createRevision ? this.decodePrev(e) : undefined);
        ev = { type: e.revision === e.createRevision ? 'ADDED' : 'MODIFIED', rev: e.revision, cur, prev, at: now };
        if (!replay) {
          if (!this.items.has(e.key)) {
            this.sorted = null;
            this.namespaceKeys.added(e.key);
          }
          this.items.set(e.key, cur);
          if (prevKnown instanceof CachedObject) prevKnown.retire();
        }
      } else {
        const last = (!replay && this.items.get(e.key)) || undefined;
        const lastObj = last ? last.obj : this.decode(e.key, e.value, e.revision);
        const gone = structuredClone(lastObj);
        gone.metadata.resourceVersion = String(e.revision);
        ev = {
          type: 'DELETED',
          rev: e.revision,
          cur: makeStored(e.key, gone, e.revision, e.createRevision),
          prev: last,
          at: now,
        };
        if (!replay && this.items.delete(e.key)) {
          this.sorted = null;
          this.namespaceKeys.deleted(e.key);
        }
        if (last instanceof CachedObject) last.retire();
      }
      // History holds its own, slim copy; the event itself (parsed objects, encoded lines) goes
      // once the watchers had it. The version before is the previous event's `cur`: its history
      // copy is shared, and now keeps only its difference from this one.
      const prevPast = ev.prev instanceof CachedObject ? ev.prev.past : undefined;
      const curPast = pastOf(ev.cur, this.decode, prevPast ? prevPast.seq + 1 : 0);
      if (ev.cur instanceof CachedObject) ev.cur.past = curPast;
      prevPast?.supersede(curPast);
      // The superseded entry no longer needs its way into the history: whatever still holds it (a
      // list's snapshot) would keep, through the chain of deltas, every later version with it.
      if (ev.prev instanceof CachedObject) ev.prev.past = undefined;
      this.history.push({
        type: ev.type,
        rev: ev.rev,
        cur: curPast,
        prev: ev.prev && (prevPast ?? this.past(ev.prev)),
        at: ev.at,
      });
      if (!replay) this.fanout.push(ev);
    }
    this.trim(now);
    // Watchers get their events after the writers' acknowledgements went out: a write's latency
    // doesn't grow with the number of watchers. Order per watcher is unchanged.
    if (this.fanout.length && !this.fanoutScheduled) {
      this.fanoutScheduled = true;
      setImmediate(() => this.flushFanout());
    }
  }

  /**
   * Delivers queued events to the watchers, for at most FANOUT_SLICE_MS at a time: an event of a
   * big object costs each in-process watcher a copy (and its handler's work), and a thousand
   * watchers of small events add up too; other requests get the event loop in between. A
   * watcher already given an event skips it when delivery resumes (its lastRev), so the order
   * per watcher stays the same.
   */
  private flushFanout() {
    this.fanoutScheduled = false;
    const until = performance.now() + FANOUT_SLICE_MS;
    let done = 0;
    try {
      for (; done < this.fanout.length; done++) {
        const ev = this.fanout[done];
        for (const reg of this.watchers) {
          if (ev.rev > reg.lastRev) {
            reg.lastRev = ev.rev;
            reg.watcher.onEvent(ev);
            if (performance.now() > until) return;
          }
        }
        if (ev.cur instanceof CachedObject) ev.cur.settle();
      }
    } finally {
      this.fanout.splice(0, done);
      if (this.fanout.length && !this.fanoutScheduled) {
        this.fanoutScheduled = true;
        setImmediate(() => this.flushFanout());
      }
    }
  }

  private storedFromEvent(e: StorageEvent): StoredObject {
    const hint = this.hints.get(e.key);
    if (hint) this.hints.delete(e.key);
    const json = spliceResourceVersion(e.value, e.revision);
    const obj =
      hint && hint.value === e.value && json
        ? copyWith(hint.obj, 'metadata', copyWith(hint.obj.metadata, 'resourceVersion', String(e.revision)))
        : this.decode(e.key, e.value, e.revision);
    return new CachedObject(e.key, json ?? JSON.stringify(obj), e.revision, e.createRevision, this.decode, obj, true);
  }

  /**
   * The writer of `value` at `key` has it parsed already: when its change arrives, the cache
   * uses that object instead of parsing the value again. The object must not change afterwards.
   */
  expect(key: string, value: string, obj: any): void {
    this.hints.set(key, { value, obj });
  }

  private past(s: StoredObject): StoredObject {
    return s instanceof PastObject ? s : pastOf(s, this.decode, 0);
  }

  private decodePrev(e: StorageEvent): StoredObject | undefined {
    try {
      return makeStored(e.key, this.decode(e.key, e.prevValue!, 0), 0, e.createRevision);
    } catch {
      return undefined;
    }
  }

  /**
   * While the server is short of memory (its HeapGuard), keep only the last half minute of
   * history: past versions are what a deletion leaves behind, and would otherwise pin the memory a
   * clean-up frees for the whole window. Watches resuming from earlier relist, as after compaction.
   */
  shedHistory(on: boolean): void {
    this.shedding = on;
    if (on) this.trim(Date.now());
  }

  private trim(now: number) {
    const cutoff = now - (this.shedding ? Math.min(this.historyMs, SHED_HISTORY_MS) : this.historyMs);
    let i = this.historyStart;
    while (i < this.history.length && (this.history[i].at < cutoff || this.history.length - i > this.maxEvents)) i++;
    if (i > this.historyStart) {
      this.oldestResumable = this.history[i - 1].rev;
      // Let go of the dropped events now, not when the array is next compacted: thousands of
      // them (deletions' last versions, whole) would otherwise outlive the window.
      this.history.fill(DROPPED, this.historyStart, i);
      this.historyStart = i;
    }
    // Compact the array now and then rather than shifting on every event.
    const slack = this.shedding ? 256 : 4096;
    if (this.historyStart > slack && this.historyStart > this.history.length / 2) {
      this.history = this.history.slice(this.historyStart);
      this.historyStart = 0;
    }
  }

  /** Throws StorageError('Compacted') when events after `fromRev` are no longer kept. */
  eventsSince(fromRev: number): CacheEvent[] {
    if (fromRev < this.oldestResumable)
      throw new StorageError('Compacted', this.prefix, undefined, this.oldestResumable);
    // Binary search for the first event with rev > fromRev.
    let lo = this.historyStart;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid].rev <= fromRev) lo = mid + 1;
      else hi = mid;
    }
    return this.history.slice(lo);
  }

  /**
   * The versions that were current at `rev` of keys written or deleted since, from the history:
   * for each key of `wanted` (with the revision of its version at `rev`), the version its first
   * change after `rev` replaced. Undefined when the history no longer reaches back to `rev` or
   * does not hold one of them (pagination snapshots then read the page from storage).
   */
  versionsAt(wanted: Map<string, number>, rev: number): Map<string, StoredObject> | undefined {
    if (rev < this.oldestResumable) return undefined;
    let lo = this.historyStart;
    let hi = this.history.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.history[mid].rev <= rev) lo = mid + 1;
      else hi = mid;
    }
    const found = new Map<string, StoredObject>();
    for (let i = lo; i < this.history.length && found.size < wanted.size; i++) {
      const ev = this.history[i];
      const want = wanted.get(ev.cur.key);
      if (want === undefined || found.has(ev.cur.key)) continue;
      if (ev.prev?.rev !== want) return undefined;
      found.set(ev.cur.key, ev.prev);
    }
    return found.size === wanted.size ? found : undefined;
  }

  /**
   * Register a watcher receiving every event after `fromRev`: past ones from history first, then
   * live ones. Synchronous, so nothing can be missed or sent twice in between.
   */
  watch(fromRev: number, w: CacheWatcher): () => void {
    const past = this.eventsSince(fromRev);
    // Events still waiting for fan-out are in history too: `lastRev` keeps them from coming twice.
    const reg = { watcher: w, lastRev: fromRev };
    for (const ev of past) {
      reg.lastRev = ev.rev;
      // A copy: watchers may memoise their encoding on an event, which history must not keep.
      w.onEvent({ ...ev });
    }
    this.watchers.add(reg);
    return () => this.watchers.delete(reg);
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Keys in order, rebuilt lazily after keys come or go (updates keep the order). */
  private sortedKeys(): string[] {
    if (!this.sorted) this.sorted = [...this.items.keys()].sort();
    return this.sorted;
  }

  /** Live objects whose key starts with `keyPrefix`, sorted by key (for namespace-scoped lists). */
  list(keyPrefix: string = this.prefix): StoredObject[] {
    if (keyPrefix !== this.prefix) {
      const own = this.namespaceKeys.sorted(keyPrefix, this.items);
      if (own) return own.map((k) => this.items.get(k)!);
    }
    if (!this.sorted && keyPrefix !== this.prefix) {
      // Keys came or went since the last full sort: while pods are being created, sorting every
      // key of the cluster for each namespace's list cost more than the list (150,000 pods);
      // the namespace's keys are picked out and only they are sorted.
      const keys: string[] = [];
      for (const k of this.items.keys()) if (k.startsWith(keyPrefix)) keys.push(k);
      return keys.sort().map((k) => this.items.get(k)!);
    }
    const keys = this.sortedKeys();
    let lo = 0;
    if (keyPrefix !== this.prefix) {
      // Binary search to the first key >= keyPrefix, then walk while the prefix matches.
      let hi = keys.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (keys[mid] < keyPrefix) lo = mid + 1;
        else hi = mid;
      }
    }
    const out: StoredObject[] = [];
    for (let i = lo; i < keys.length && keys[i].startsWith(keyPrefix); i++) out.push(this.items.get(keys[i])!);
    return out;
  }

  get(key: string): StoredObject | undefined {
    return this.items.get(key);
  }
}
