// Watch streams: newline-delimited JSON events over a chunked HTTP response, or one event per
// WebSocket message. Events come from the watch cache in revision order with no gap and no
// duplicate; selectors are applied per watcher with upstream's transition rules (an object that
// stops matching is DELETED for that watcher, one that starts matching is ADDED). Rendering is
// synchronous except behind a conversion webhook: then each watcher keeps a promise chain, so its
// events still go out strictly in order, and a conversion failure ends the watch with an ERROR.
import type { ServerResponse } from 'node:http';
import type { WebSocket } from 'ws';
import type { CacheEvent, StoredObject, WatchCache } from '../storage/cacher.js';
import { StorageError } from '../storage/interface.js';
import * as errors from '../machinery/errors.js';
import { deepCopy } from '../machinery/objects.js';
import { isPromise, type MaybePromise } from './convert.js';

export interface WatchSink {
  write(line: string): boolean;
  /** An already encoded event line, newline included (shared between watchers). */
  writeEncoded?(line: Buffer): boolean;
  /** An event of an object as stored (protobuf watchers: its message bytes are kept with it). */
  writeStored?(type: string, stored: StoredObject): boolean;
  /** An event as an object (in-process watchers: no JSON text to build and parse again). */
  writeObject?(type: string, object: unknown): void;
  /** Bytes waiting to be sent: a watcher far behind is dropped rather than buffered forever. */
  backlog(): number;
  end(): void;
  onClose(cb: () => void): void;
}

export function httpSink(res: ServerResponse): WatchSink {
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache, private',
  });
  res.flushHeaders();
  return {
    write: (line) => res.write(line + '\n'),
    writeEncoded: (line) => res.write(line),
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
  /** `matches` for a cached version (reading only what the selectors need). */
  matchesStored(s: StoredObject): boolean;
  /**
   * Render an object as the client asked for it (version conversion, Table, metadata only). A
   * Promise only when the conversion is asynchronous (a CRD conversion webhook).
   */
  render(stored: StoredObject): MaybePromise<string>;
  /** Optional, for sinks taking objects: render an object as a private copy (synchronous only). */
  renderObject?(stored: StoredObject): unknown;
  /** Optional: render many objects at once (the initial ADDED events: one conversion call). */
  renderMany?(stored: StoredObject[]): MaybePromise<string[]>;
  /** A bookmark object for this resource at a revision. */
  bookmark(rev: number, initialEventsEnd: boolean): string;
  /** Objects are sent as stored (no conversion, no Table): events can be encoded once for all watchers. */
  asStored?: boolean;
  /** undefined: start with ADDED events for every matching object, then go on live. */
  fromRev?: number;
  sendInitialEvents: boolean;
  bookmarks: boolean;
  timeoutMs: number;
}

const MAX_BACKLOG = 32 * 1024 * 1024;
/** Events waiting for an asynchronous render: a watcher further behind is dropped. */
const MAX_PENDING_RENDERS = 10_000;
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
  // Ordered delivery: while an asynchronous render is outstanding, every later line (even a
  // synchronous one, or a bookmark) waits behind it on this watcher's chain.
  let chain: Promise<void> | undefined;
  let pending = 0;
  const failed = (err: unknown) => {
    if (closed) return;
    send(errorEvent(errors.toApiError(err)));
    finish();
  };
  const sendLines = (lines: string | string[]) => {
    if (typeof lines === 'string') return send(lines);
    for (const l of lines) send(l);
  };
  const emit = (line: MaybePromise<string | string[]>) => {
    if (closed) return;
    if (!chain && !isPromise(line)) return sendLines(line);
    if (++pending > MAX_PENDING_RENDERS) return finish();
    // A render may fail while it still waits behind an earlier one: it is handled on the chain.
    if (isPromise(line)) line.catch(() => undefined);
    const prev = chain ?? Promise.resolve();
    const next: Promise<void> = prev
      .then(() => line)
      .then(sendLines)
      .catch(failed)
      .finally(() => {
        pending--;
        if (chain === next) chain = undefined;
      });
    chain = next;
  };
  /** Render, turning a synchronous failure into an ERROR event too. */
  const render = (s: StoredObject): MaybePromise<string> | undefined => {
    try {
      return spec.render(s);
    } catch (err) {
      // Behind earlier asynchronous lines, the error waits its turn.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrows the caught value unchanged
      emit(Promise.reject(err));
      return undefined;
    }
  };
  const encodedEvent = (ev: CacheEvent, type: string): Buffer => {
    const memo = ((ev as { encoded?: Record<string, Buffer> }).encoded ??= {});
    return (memo[type] ??= Buffer.from(`${eventLine(type, ev.cur.json)}\n`));
  };
  const event = (type: string, s: StoredObject, ev?: CacheEvent) => {
    if ((!ev || s === ev.cur) && spec.asStored && sink.writeStored && !chain && !closed) {
      sink.writeStored(type, s);
      if (sink.backlog() > MAX_BACKLOG) finish();
      return;
    }
    // The common case (plain objects as stored, nothing queued): one encoding shared by every
    // watcher of this event, instead of one string-to-bytes conversion per watcher.
    if (ev && s === ev.cur && spec.asStored && sink.writeEncoded && !chain && !closed) {
      sink.writeEncoded(encodedEvent(ev, type));
      if (sink.backlog() > MAX_BACKLOG) finish();
      return;
    }
    if (spec.renderObject && sink.writeObject && !chain && !closed) {
      let obj: unknown;
      try {
        obj = spec.renderObject(s);
      } catch (err) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- rethrows the caught value unchanged
        emit(Promise.reject(err));
        return;
      }
      sink.writeObject(type, obj);
      if (sink.backlog() > MAX_BACKLOG) finish();
      return;
    }
    const body = render(s);
    if (body === undefined) return;
    emit(isPromise(body) ? body.then((b) => eventLine(type, b)) : eventLine(type, body));
  };

  const onEvent = (ev: CacheEvent) => {
    if (closed) return;
    if (!inScope(ev.cur)) return;
    const curPasses = ev.type !== 'DELETED' && spec.matchesStored(ev.cur);
    const prevPasses = ev.prev !== undefined && spec.matchesStored(ev.prev);
    if (ev.type === 'DELETED') {
      if (spec.matchesStored(ev.cur)) event('DELETED', ev.cur, ev);
    } else if (curPasses && prevPasses) {
      event('MODIFIED', ev.cur, ev);
    } else if (curPasses) {
      event(ev.type === 'MODIFIED' && ev.prev ? 'ADDED' : ev.type, ev.cur, ev);
    } else if (prevPasses) {
      // Left the selector: the last matching state, at this event's revision.
      const gone = deepCopy(ev.prev.obj);
      gone.metadata.resourceVersion = String(ev.rev);
      event('DELETED', { ...ev.prev, obj: gone, json: JSON.stringify(gone), rev: ev.rev });
    }
  };

  try {
    if (spec.fromRev === undefined) {
      // Initial state as synthetic ADDED events, then everything after that revision.
      const rev = cache.revision;
      const initial = cache.list(spec.keyPrefix).filter((s) => inScope(s) && spec.matchesStored(s));
      const many = spec.renderMany && initial.length > 1 ? spec.renderMany(initial) : undefined;
      if (many && isPromise(many)) emit(many.then((lines) => lines.map((b) => eventLine('ADDED', b))));
      else if (many) for (const b of many) send(eventLine('ADDED', b));
      else for (const s of initial) event('ADDED', s);
      if (spec.sendInitialEvents && spec.bookmarks) emit(eventLine('BOOKMARK', spec.bookmark(rev, true)));
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
      emit(eventLine('BOOKMARK', spec.bookmark(cache.revision, false)));
      timers.push(setTimeout(tick, BOOKMARK_EVERY_MS));
    };
    timers.push(setTimeout(tick, BOOKMARK_EVERY_MS));
  }
}
