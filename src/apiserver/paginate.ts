// Lists with limit/continue, consistent at one resourceVersion. The first page is cut from the
// watch cache, and what identifies each version of the whole (filtered) result (its key and
// revision) kept briefly as a snapshot (within a byte budget all snapshots share). A later page
// takes each object from the watch cache while the cache still holds that version, and a version
// replaced or deleted since from the cache's history; without a snapshot (evicted, another
// server, a restart), or when the history no longer has a version, the page is read from storage
// at the token's revision, or 410 Gone once that history is compacted.
import { LRUCache } from 'lru-cache';
import * as errors from '../machinery/errors.js';
import type { StoredObject, WatchCache } from '../storage/cacher.js';
import { makeStored } from '../storage/cacher.js';
import { type Backend, StorageError } from '../storage/interface.js';
import { Store } from './store.js';

export interface PageRequest {
  store: Store;
  /** For pages at a revision the cache no longer has. */
  backend: Backend;
  keyPrefix: string;
  matches(obj: any): boolean;
  /** `matches` for a cached version (reading only what the selectors need). */
  matchesStored(s: StoredObject): boolean;
  /** Identifies the selectors, so snapshots are not shared between different queries. */
  selectorKey: string;
  hasSelector: boolean;
  limit: number;
  continueToken: string;
  resourceVersion: string;
  /** The list must be exactly at resourceVersion (resourceVersionMatch=Exact, or legacy limit+rv). */
  exact: boolean;
}

export interface Page {
  items: StoredObject[];
  meta: { resourceVersion: string; continue?: string; remainingItemCount?: number };
}

/** A continue token's content (shared with the in-process transport's pagination). */
export interface Token {
  rv: number;
  start: string;
}

export const encodeToken = (t: Token) =>
  Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.rv, start: t.start })).toString('base64url');

export function decodeToken(s: string): Token {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (t.v !== 'meta.k8s.io/v1' || typeof t.rv !== 'number' || typeof t.start !== 'string')
      throw new Error('bad token');
    return { rv: t.rv, start: t.start };
  } catch {
    throw errors.badRequest(
      'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)',
    );
  }
}

/**
 * A token's start key is the client's to send back, so it is checked as upstream does: a clean
 * path (no '.', '..' or empty segments) inside the listed prefix, so it can't range elsewhere.
 */
function checkStartKey(start: string, keyPrefix: string): void {
  const segments = start.split('/').slice(1);
  const clean =
    start.startsWith('/') &&
    !segments.slice(0, -1).some((s) => s === '' || s === '.' || s === '..') &&
    segments.at(-1) !== '.' &&
    segments.at(-1) !== '..';
  if (!clean || !start.startsWith(keyPrefix))
    throw errors.badRequest(`continue key is not valid: ${start} is not a valid key`);
}

const EXPIRED =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

/**
 * A snapshot is kept as long as etcd keeps the revision a continue token names (its compaction
 * interval): a client reading the next page minutes later still gets it from memory, unless the
 * snapshots' byte budget made it go first.
 */
const SNAPSHOT_TTL_MS = 5 * 60_000;

/**
 * What the snapshots may hold together (see snapshotSize): past it the least recently used go
 * first, and a list bigger than the whole budget keeps no snapshot. Their later pages are read
 * from storage at the token's revision, as upstream's apiserver reads every page from etcd. At
 * about 90 bytes per object, a list of a million objects fits.
 */
export const SNAPSHOT_BUDGET_BYTES = 128 * 2 ** 20;

/**
 * A list's versions at its revision, in key order: the key and revision of each. It keeps no
 * object alive (whatever is replaced or deleted meanwhile is the history's to keep, and goes
 * with it), only the keys of those deleted since.
 */
interface Snapshot {
  keys: string[];
  revs: number[];
}

/**
 * Per entry beyond its key's characters: the two arrays' slots (8 bytes each) and the key
 * string's header (it outlives the cache's own reference once its object is deleted).
 */
const ENTRY_BYTES = 32;

/** A snapshot's cost against the budget: what its arrays and keys take. */
export function snapshotSize(snap: Snapshot): number {
  let n = ENTRY_BYTES * snap.keys.length;
  for (const k of snap.keys) n += k.length;
  return Math.max(1, n);
}

export interface PaginatorOptions {
  /** See SNAPSHOT_BUDGET_BYTES. */
  snapshotBudgetBytes?: number;
}

export class Paginator {
  private snapshots: LRUCache<string, Snapshot>;
  /** While set (the server is short of memory), no snapshot is kept: see shed. */
  private shedding = false;

  constructor(opts: PaginatorOptions = {}) {
    this.snapshots = new LRUCache<string, Snapshot>({
      max: 64,
      ttl: SNAPSHOT_TTL_MS,
      maxSize: opts.snapshotBudgetBytes ?? SNAPSHOT_BUDGET_BYTES,
      sizeCalculation: snapshotSize,
    });
  }

  /** The snapshots kept: how many, and their size against the budget. */
  get snapshotStats(): { count: number; bytes: number } {
    return { count: this.snapshots.size, bytes: this.snapshots.calculatedSize };
  }

  /**
   * While the server is short of memory (its HeapGuard), keep no snapshot: a client polling the
   * first page of a list (`limit=1`) leaves one behind per poll, each a slot and key per object.
   * (Snapshots held whole objects once: a scale-down of ten thousand pods freed nothing for five
   * minutes while the snapshots of such polls held them, 317 of 380 MiB of heap.) Later pages are
   * read from storage at the token's revision instead, as upstream's apiserver reads them from
   * etcd.
   */
  shed(on: boolean): void {
    this.shedding = on;
    if (on) this.snapshots.clear();
  }

  async page(r: PageRequest): Promise<Page> {
    const cache = r.store.cache;
    if (r.continueToken) {
      const token = decodeToken(r.continueToken);
      checkStartKey(token.start, r.keyPrefix);
      const key = this.snapKey(r, token.rv);
      const snap = this.snapshots.get(key);
      const page = snap && this.fromSnapshot(r, cache, snap, token.rv, token.start);
      if (page) {
        // The last page was read: the list is done (a repeated last page comes from storage).
        if (!page.meta.continue) this.snapshots.delete(key);
        return page;
      }
      return this.fromStorage(r, token.rv, token.start);
    }
    const current = cache.revision;
    const rv = r.resourceVersion ? Number(r.resourceVersion) : 0;
    if (rv > current) {
      throw new errors.ApiError(504, 'Timeout', `Too large resource version: ${rv}, current: ${current}`, {
        causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
        retryAfterSeconds: 1,
      });
    }
    if (r.exact && rv && rv !== current) return this.fromStorage(r, rv, '');
    const all = cache.list(r.keyPrefix).filter((s) => r.matchesStored(s));
    if (r.limit > 0 && all.length > r.limit && !this.shedding) {
      const snap: Snapshot = { keys: new Array<string>(all.length), revs: new Array<number>(all.length) };
      for (let i = 0; i < all.length; i++) {
        snap.keys[i] = all[i].key;
        snap.revs[i] = all[i].rev;
      }
      this.snapshots.set(this.snapKey(r, current), snap);
    }
    return this.cut(r, all, current);
  }

  /**
   * The page after `start` of a snapshot at `rv`: each version from the watch cache while it is
   * still the current one, else from the cache's history. Undefined if the history no longer has
   * one of them (the caller reads the page from storage).
   */
  private fromSnapshot(r: PageRequest, cache: WatchCache, snap: Snapshot, rv: number, start: string): Page | undefined {
    const from = indexAfter(snap.keys, start);
    const to = r.limit > 0 ? Math.min(snap.keys.length, from + r.limit) : snap.keys.length;
    const items = new Array<StoredObject>(to - from);
    let changed: Map<string, number> | undefined;
    for (let i = from; i < to; i++) {
      const s = cache.get(snap.keys[i]);
      if (s !== undefined && s.rev === snap.revs[i]) items[i - from] = s;
      else (changed ??= new Map()).set(snap.keys[i], snap.revs[i]);
    }
    if (changed) {
      const past = cache.versionsAt(changed, rv);
      if (!past) return undefined;
      for (let i = from; i < to; i++) items[i - from] ??= past.get(snap.keys[i])!;
    }
    const meta: Page['meta'] = { resourceVersion: String(rv) };
    if (to < snap.keys.length) {
      meta.continue = encodeToken({ rv, start: snap.keys[to - 1] });
      if (!r.hasSelector) meta.remainingItemCount = snap.keys.length - to;
    }
    return { items, meta };
  }

  private snapKey(r: PageRequest, rv: number): string {
    return `${r.keyPrefix}|${r.selectorKey}|${rv}`;
  }

  private cut(r: PageRequest, all: StoredObject[], rv: number): Page {
    const meta: Page['meta'] = { resourceVersion: String(rv) };
    if (r.limit <= 0 || all.length <= r.limit) return { items: all, meta };
    const items = all.slice(0, r.limit);
    meta.continue = encodeToken({ rv, start: items[items.length - 1].key });
    if (!r.hasSelector) meta.remainingItemCount = all.length - r.limit;
    return { items, meta };
  }

  /** Read a page at an older revision from storage. */
  private async fromStorage(r: PageRequest, rv: number, after: string): Promise<Page> {
    const items: StoredObject[] = [];
    let cursor = after;
    let more = true;
    try {
      while (more && (r.limit <= 0 || items.length < r.limit)) {
        const res = await r.backend.list(r.keyPrefix, {
          revision: rv,
          after: cursor || undefined,
          limit: r.limit > 0 ? r.limit : undefined,
        });
        more = res.more;
        for (const kv of res.items) {
          if (r.limit > 0 && items.length >= r.limit) {
            more = true;
            break;
          }
          cursor = kv.key;
          const obj = Store.decode(kv.value, kv.modRevision);
          if (r.matches(obj)) items.push(makeStored(kv.key, obj, kv.modRevision, kv.createRevision));
        }
        if (!res.items.length) more = false;
      }
    } catch (err) {
      if (err instanceof StorageError && err.code === 'Compacted') {
        if (after) throw errors.gone(EXPIRED);
        throw errors.tooOldResourceVersion(rv, err.compactedRevision ?? 0);
      }
      throw err;
    }
    const meta: Page['meta'] = { resourceVersion: String(rv) };
    if (more && items.length) meta.continue = encodeToken({ rv, start: cursor });
    return { items, meta };
  }
}

/** Index of the first key after `key` in sorted keys. */
export function indexAfter(sorted: string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
