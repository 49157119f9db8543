// How many seats a request takes, as upstream's WorkEstimator (k8s.io/apiserver
// pkg/util/flowcontrol/request, Kubernetes 1.30's defaults): a LIST (and a watch that sends its
// initial events) by the number of objects it will go through, one seat per 100, from the count
// of stored objects of its resource (here: the watch cache's); a write holds, after it is done,
// extra seats for the watch notifications it causes (one per 10 watchers interested in the
// object, 5 ms each, spread over at most the level's maximum seats); everything else one seat.
// The watchers are counted by the WatchTracker below, as upstream's: per resource, namespace and
// name, a pod watch of one node (spec.nodeName=X, each kubelet's) not counted.
import type { Attributes } from '../authz/types.js';

export interface WorkEstimate {
  /** Seats while the request is being served. */
  initialSeats: number;
  /** Seats held after it is served, for additionalLatencyMs (its watch notifications). */
  finalSeats: number;
  additionalLatencyMs: number;
}

export const MIN_SEATS = 1;
/** Upstream's maximumSeatsLimit: no request takes more seats. */
export const MAX_SEATS_LIMIT = 10;
const OBJECTS_PER_SEAT = 100;
const WATCHES_PER_SEAT = 10;
const EVENT_ADDITIONAL_MS = 5;

/** One seat and nothing after: most requests (shared, never changed). */
export const ONE_SEAT: WorkEstimate = Object.freeze({ initialSeats: 1, finalSeats: 0, additionalLatencyMs: 0 });

const fixed = (seats: number): WorkEstimate =>
  seats === 1 ? ONE_SEAT : { initialSeats: seats, finalSeats: 0, additionalLatencyMs: 0 };

/** The options of a list or watch that the estimate reads (as in the request's query). */
export interface ListParams {
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  labelSelector?: string;
  fieldSelector?: string;
  sendInitialEvents?: boolean;
}

/** A request's list parameters from its query (only read for a list or watch). */
export function listParamsOf(query: URLSearchParams): ListParams {
  const limit = Number(query.get('limit') ?? '');
  return {
    limit: Number.isInteger(limit) && limit > 0 ? limit : undefined,
    continue: query.get('continue') ?? undefined,
    resourceVersion: query.get('resourceVersion') ?? undefined,
    resourceVersionMatch: query.get('resourceVersionMatch') ?? undefined,
    labelSelector: query.get('labelSelector') ?? undefined,
    fieldSelector: query.get('fieldSelector') ?? undefined,
    sendInitialEvents: query.get('sendInitialEvents') === 'true',
  };
}

/**
 * Upstream's shouldListFromStorage (Kubernetes 1.30, ConsistentListFromCache off): a list without
 * a resourceVersion, with a continue token, a limit (but not at resourceVersion 0) or an exact
 * resourceVersionMatch is read from etcd; the others from the watch cache. k8ts serves most of
 * them from its cache either way; the estimate is upstream's.
 */
function listFromStorage(p: ListParams): boolean {
  const rv = p.resourceVersion ?? '';
  const match = p.resourceVersionMatch ?? '';
  return rv === '' || !!p.continue || ((p.limit ?? 0) > 0 && rv !== '0') || (match !== '' && match !== 'NotOlderThan');
}

export interface EstimatorDeps {
  /** Objects stored of a resource (undefined: not known, as upstream's ObjectCountNotFound). */
  objectCount(group: string, resource: string): number | undefined;
  watchers: WatchTracker;
}

/**
 * The estimate for a classified request; `maxSeats` is its level's (0: none, MAX_SEATS_LIMIT).
 * `list`: a list's or watch's options, or the request's query to read them from (only as needed).
 */
export function estimateWork(
  deps: EstimatorDeps,
  a: Attributes,
  maxSeats: number,
  list: ListParams | URLSearchParams | undefined,
): WorkEstimate {
  if (!a.resourceRequest) return ONE_SEAT;
  switch (a.verb) {
    case 'list':
    case 'watch':
      return estimateList(deps, a, capped(maxSeats), list);
    case 'create':
    case 'update':
    case 'patch':
    case 'delete':
      return estimateMutating(deps, a, capped(maxSeats));
    default:
      return ONE_SEAT;
  }
}

const capped = (maxSeats: number) => (maxSeats === 0 || maxSeats > MAX_SEATS_LIMIT ? MAX_SEATS_LIMIT : maxSeats);

function estimateList(
  deps: EstimatorDeps,
  a: Attributes,
  maxSeats: number,
  list: ListParams | URLSearchParams | undefined,
): WorkEstimate {
  // One object (by name, or a field selector on metadata.name): one seat.
  if (a.name) return ONE_SEAT;
  const query = list instanceof URLSearchParams ? list : undefined;
  const params = list instanceof URLSearchParams ? undefined : list;
  // A watch that does not send its initial events does little work to start.
  if (a.verb === 'watch' && !(query ? query.get('sendInitialEvents') === 'true' : params?.sendInitialEvents))
    return ONE_SEAT;
  const stored = deps.objectCount(a.apiGroup, a.resource);
  if (stored === undefined) return ONE_SEAT;
  const p: ListParams = query ? listParamsOf(query) : (params ?? {});
  const limit = p.limit !== undefined && p.limit < stored ? p.limit : stored;
  let objects: number;
  if (a.verb === 'watch' || !listFromStorage(p)) objects = stored;
  else if (p.fieldSelector || p.labelSelector) objects = stored + limit;
  else objects = 2 * limit;
  return fixed(Math.min(maxSeats, Math.max(MIN_SEATS, Math.ceil(objects / OBJECTS_PER_SEAT))));
}

function estimateMutating(deps: EstimatorDeps, a: Attributes, maxSeats: number): WorkEstimate {
  // A token request notifies no watcher.
  if (a.resource === 'serviceaccounts' && a.subresource === 'token') return ONE_SEAT;
  const watches = deps.watchers.interested(a.apiGroup, a.resource, a.namespace, a.name);
  if (watches < WATCHES_PER_SEAT) return ONE_SEAT;
  const seats = Math.ceil(watches / WATCHES_PER_SEAT);
  // The notifications' work (seats x 5 ms), spread over at most maxSeats seats.
  const work = seats * EVENT_ADDITIONAL_MS;
  const finalSeats = Math.min(seats, maxSeats);
  return { initialSeats: 1, finalSeats, additionalLatencyMs: work / finalSeats };
}

const noop = () => undefined;

/** The pod watches of one node, which upstream's tracker leaves out (an index serves them). */
function nodeScopedPodWatch(resource: string, fieldSelector: string | undefined): boolean {
  if (resource !== 'pods' || !fieldSelector) return false;
  for (const term of fieldSelector.split(',')) {
    const m = /^\s*spec\.nodeName\s*==?\s*(.*?)\s*$/.exec(term);
    if (m) return m[1] !== '';
  }
  return false;
}

/** The watches open on one resource: of all of it, per namespace, per object. */
interface ResourceWatches {
  total: number;
  all: number;
  namespaces: Map<string, number>;
  /** By `namespace/name`. */
  objects: Map<string, number>;
}

const bump = (m: Map<string, number>, k: string, by: number) => {
  const n = (m.get(k) ?? 0) + by;
  if (n) m.set(k, n);
  else m.delete(k);
};

/**
 * The watches open, per (group, resource, namespace, name) they cover (upstream's WatchTracker):
 * a write counts those of its resource, of its namespace and of its object.
 */
export class WatchTracker {
  /** By group, then resource (no key is built for a write's lookup). */
  private readonly groups = new Map<string, Map<string, ResourceWatches>>();

  /** A watch started; the function returned ends it (once). */
  register(group: string, plural: string, namespace: string, name: string, fieldSelector?: string): () => void {
    if (nodeScopedPodWatch(plural, fieldSelector)) return noop;
    let resources = this.groups.get(group);
    if (!resources) this.groups.set(group, (resources = new Map()));
    let r = resources.get(plural);
    if (!r) resources.set(plural, (r = { total: 0, all: 0, namespaces: new Map(), objects: new Map() }));
    const rw = r;
    const change = (by: number) => {
      rw.total += by;
      if (name) bump(rw.objects, `${namespace}/${name}`, by);
      else if (namespace) bump(rw.namespaces, namespace, by);
      else rw.all += by;
    };
    change(1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      change(-1);
    };
  }

  /** Watches a write of this object notifies: of the whole resource, of its namespace, of it by name. */
  interested(group: string, resource: string, namespace: string, name: string): number {
    const r = this.groups.get(group)?.get(resource);
    if (!r?.total) return 0;
    let n = r.all;
    if (namespace && r.namespaces.size) n += r.namespaces.get(namespace) ?? 0;
    if (name && r.objects.size) n += r.objects.get(`${namespace}/${name}`) ?? 0;
    return n;
  }
}
