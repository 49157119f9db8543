// Watch streams: newline-delimited JSON events over a chunked HTTP response, or one event per
// WebSocket message. Events come from the watch cache in revision order with no gap and no
// duplicate; selectors are applied per watcher with upstream's transition rules (an object that
// stops matching is DELETED for that watcher, one that starts matching is ADDED).
import type { ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import type { CacheEvent, StoredObject, WatchCache } from '../storage/cacher.js';
import { StorageError } from '../storage/interface.js';
import * as errors from '../machinery/errors.js';

export interface WatchSink {
  write(line: string): boolean;
  /** Bytes waiting to be sent: a watcher far behind is dropped rather than buffered forever. */
  backlog(): number;
  end(): void;
  onClose(cb: () => void): void;
}

export function httpSink(res: ServerResponse): WatchSink {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked', 'Cache-Control': 'no-cache, private' });
  res.flushHeaders();
  return {
    write: (line) => res.write(line + '\n'),
    backlog: () => res.writableLength,
    end: () => res.end(),
    onClose: (cb) => res.on('close', cb),
  };
}

export function websocketSink(ws: WebSocket): WatchSink {
  return {
    write: (line) => {
      ws.send(line);
      return true;
    },
    backlog: () => ws.bufferedAmount,
    end: () => ws.close(1000),
    onClose: (cb) => ws.on('close', cb),
  };
}

export interface WatchSpec {
  cache: WatchCache;
  /** Only keys under this prefix (namespace or single object). */
  keyPrefix: string;
  exactKey?: string;
  matches(obj: any): boolean;
  /** Render an object as the client asked for it (version conversion, Table, metadata only). */
  render(stored: StoredObject): string;
  /** A bookmark object for this resource at a revision. */
  bookmark(rev: number, initialEventsEnd: boolean): string;
  /** undefined: start with ADDED events for every matching object, then go on live. */
  fromRev?: number;
  sendInitialEvents: boolean;
  bookmarks: boolean;
  timeoutMs: number;
}

const MAX_BACKLOG = 32 * 1024 * 1024;
const BOOKMARK_EVERY_MS = 30_000;

export function errorEvent(err: errors.ApiError): string {
  return JSON.stringify({ type: 'ERROR', object: err.toStatus() });
}

const eventLine = (type: string, body: string) => `{"type":"${type}","object":${body}}`;

export function runWatch(spec: WatchSpec, sink: WatchSink): void {
  const { cache } = spec;
  let closed = false;
  let stop: (() => void) | undefined;
  const timers: NodeJS.Timeout[] = [];
  const finish = () => {
    if (closed) return;
    closed = true;
    stop?.();
    for (const t of timers) clearTimeout(t);
    sink.end();
  };
  sink.onClose(() => {
    closed = true;
    stop?.();
    for (const t of timers) clearTimeout(t);
  });

  const inScope = (s: StoredObject | undefined) =>
    s !== undefined && (spec.exactKey ? s.key === spec.exactKey : s.key.startsWith(spec.keyPrefix));
  const send = (line: string) => {
    if (closed) return;
    sink.write(line);
    if (sink.backlog() > MAX_BACKLOG) finish();
  };

  const onEvent = (ev: CacheEvent) => {
    if (closed) return;
    if (!inScope(ev.cur)) return;
    const curPasses = ev.type !== 'DELETED' && spec.matches(ev.cur.obj);
    const prevPasses = ev.prev !== undefined && spec.matches(ev.prev.obj);
    if (ev.type === 'DELETED') {
      if (spec.matches(ev.cur.obj)) send(eventLine('DELETED', spec.render(ev.cur)));
    } else if (curPasses && prevPasses) {
      send(eventLine('MODIFIED', spec.render(ev.cur)));
    } else if (curPasses) {
      send(eventLine(ev.type === 'MODIFIED' && ev.prev ? 'ADDED' : ev.type, spec.render(ev.cur)));
    } else if (prevPasses) {
      // Left the selector: the last matching state, at this event's revision.
      const gone = structuredClone(ev.prev!.obj);
      gone.metadata.resourceVersion = String(ev.rev);
      send(eventLine('DELETED', spec.render({ ...ev.prev!, obj: gone, json: JSON.stringify(gone), rev: ev.rev })));
    }
  };

  try {
    if (spec.fromRev === undefined) {
      // Initial state as synthetic ADDED events, then everything after that revision.
      const rev = cache.revision;
      for (const s of cache.list(spec.keyPrefix)) {
        if (inScope(s) && spec.matches(s.obj)) send(eventLine('ADDED', spec.render(s)));
      }
      if (spec.sendInitialEvents && spec.bookmarks) send(eventLine('BOOKMARK', spec.bookmark(rev, true)));
      stop = cache.watch(rev, { onEvent });
    } else {
      stop = cache.watch(spec.fromRev, { onEvent });
    }
  } catch (err) {
    if (err instanceof StorageError && err.code === 'Compacted') {
      send(errorEvent(errors.tooOldResourceVersion(spec.fromRev ?? 0, err.compactedRevision ?? 0)));
    } else {
      send(errorEvent(errors.toApiError(err)));
    }
    finish();
    return;
  }
  if (closed) {
    stop?.();
    return;
  }
  timers.push(setTimeout(finish, spec.timeoutMs));
  if (spec.bookmarks) {
    const tick = () => {
      send(eventLine('BOOKMARK', spec.bookmark(cache.revision, false)));
      timers.push(setTimeout(tick, BOOKMARK_EVERY_MS));
    };
    timers.push(setTimeout(tick, BOOKMARK_EVERY_MS));
  }
}
