// WATCH: events from the watch cache (runWatch in ../watch.ts), rendered as the transport needs
// them (HTTP: JSON text, Table, protobuf; in-process: objects).
import type { StoredObject } from '../../storage/cacher.js';
import type { MaybePromise } from '../convert.js';
import { type ListOptions, validateListOptions } from '../options.js';
import { type WatchSink, runWatch } from '../watch.js';
import { type ApiRequest, type HandlerDeps, checkVerb, selectors } from './request.js';

/** How a transport renders a watch's objects (see WatchSpec). */
export interface WatchView {
  render(stored: StoredObject): MaybePromise<string>;
  renderMany?(stored: StoredObject[]): MaybePromise<string[]>;
  renderObject?(stored: StoredObject): unknown;
  bookmark(rev: number, initialEventsEnd: boolean): string;
  asStored?: boolean;
}

/** The longest delay a Node timer takes (longer ones fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const defaultWatchTimeoutMs = () => (1800 + Math.floor(Math.random() * 1800)) * 1000;

/** Start a watch; the sink (over HTTP: the 200 response) opens only once the request is valid. */
export function watch(
  deps: HandlerDeps,
  req: ApiRequest,
  options: ListOptions,
  view: WatchView,
  openSink: () => WatchSink,
): void {
  checkVerb(req, 'watch');
  const opts = validateListOptions(options);
  const { def } = req.served;
  const store = deps.storeFor(def);
  const sel = selectors(def, opts.labelSelector, opts.fieldSelector);
  const rv = opts.resourceVersion;
  const sendInitialEvents = opts.sendInitialEvents === true;
  // As upstream: no timeout (or 0) means the server's randomised default; a negative one ends at once.
  const timeoutMs = opts.timeoutSeconds
    ? Math.min(Math.max(0, opts.timeoutSeconds) * 1000, MAX_TIMER_MS)
    : defaultWatchTimeoutMs();
  const namespace = def.namespaced ? req.namespace : undefined;
  // A watch of one object by name follows only its key.
  const nameSel = sel.fields.requirements.find((r) => r.field === 'metadata.name' && r.op === '=');
  const exactKey = nameSel && (namespace || !def.namespaced) ? store.key(namespace, nameSel.value) : undefined;
  const fromRev = rv === '' || rv === '0' || sendInitialEvents ? undefined : Number(rv);
  runWatch(
    {
      cache: store.cache,
      keyPrefix: store.keyPrefix(namespace),
      exactKey,
      matches: sel.matches,
      matchesStored: sel.matchesStored,
      ...view,
      fromRev,
      sendInitialEvents,
      bookmarks: opts.allowWatchBookmarks,
      timeoutMs,
    },
    openSink(),
  );
}
