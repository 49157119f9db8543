// A Transport over a MessagePort, for a component run on a worker thread of the process that
// holds the API server (`k8ts server` runs its scheduler so: server/schedulerthread.ts). The
// thread's side is a PortTransport; the other side serves each call with a transport of its own
// (serveTransport: in `k8ts server`, the in-process transport under the component's identity).
//
// What crosses the port is kept cheap for the serving side, whose thread is the busy one:
// requests and answers go as plain objects (structured clone), watch events as JSON text (the
// in-process transport hands out the watch cache's own text, so nothing is stringified per
// event) parsed on the component's thread, and each side sends whatever it has in one message
// per turn of its event loop. Errors cross as their Status fields: an ApiError arrives with its
// code, reason, message and details.
import type { MessagePort } from 'node:worker_threads';
import { ApiError } from './errors.js';
import { markUnshared } from '../machinery/objects.js';
import type {
  DeleteOptions,
  DiscoveredResource,
  ListOptions,
  ObjectList,
  PatchOptions,
  PatchType,
  Target,
  Transport,
  Watch,
  WatchEnd,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './types.js';

/** The calls served over a port: every Transport method with one answer. */
const CALLS = ['get', 'list', 'create', 'update', 'patch', 'delete', 'deleteCollection', 'discover'] as const;
type Call = (typeof CALLS)[number];

/** An error as it crosses the port (an ApiError's fields). */
interface WireError {
  code: number;
  reason: string;
  message: string;
  details?: ApiError['details'];
}

/** Component → server. */
type Request =
  | { k: 'call'; id: number; op: Call; args: unknown[] }
  | { k: 'watch'; id: number; target: Target; opts: WatchOptions }
  | { k: 'unwatch'; id: number };

/** Server → component. */
type Answer =
  | { k: 'ok'; id: number; value: unknown }
  | { k: 'err'; id: number; error: WireError }
  /** One watch event, as its JSON line. */
  | { k: 'ev'; id: number; line: string }
  | { k: 'end'; id: number; error?: WireError };

const toWire = (err: unknown): WireError => {
  const e = ApiError.from(err);
  return { code: e.code, reason: e.reason, message: e.message, details: e.details };
};
const fromWire = (e: WireError) => new ApiError(e.code, e.reason, e.message, e.details);

/** The port is gone (the serving side stopped or the thread is shutting down). */
const portClosed = () => new ApiError(503, 'ServiceUnavailable', 'the API server port is closed', {});

/** Messages queued during one turn of the event loop, sent together at its end. */
class Outbox<T> {
  private items: T[] = [];
  private scheduled = false;
  constructor(private readonly port: MessagePort) {}

  push(item: T): void {
    this.items.push(item);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.flush);
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (!this.items.length) return;
    const items = this.items;
    this.items = [];
    try {
      this.port.postMessage(items);
    } catch {
      // The port was closed: the other side is gone and expects nothing more.
    }
  };
}

interface PendingWatch {
  onEvent: (ev: WatchEvent) => void;
  resolve: (end: WatchEnd) => void;
}

export interface PortTransportOptions {
  /** The field manager the serving side writes for (the component's name). */
  fieldManager: string;
}

/** The component's side: each call goes over the port and is answered by serveTransport. */
export class PortTransport implements Transport {
  readonly kind = 'port';
  readonly fieldManager: string;
  private nextId = 1;
  private closed = false;
  private readonly outbox: Outbox<Request>;
  private readonly calls = new Map<number, { resolve: (v: any) => void; reject: (e: ApiError) => void }>();
  private readonly watches = new Map<number, PendingWatch>();

  constructor(port: MessagePort, opts: PortTransportOptions) {
    this.fieldManager = opts.fieldManager;
    this.outbox = new Outbox(port);
    port.on('message', (batch: Answer[]) => this.receive(batch));
    port.on('close', () => this.shut());
  }

  private receive(batch: Answer[]): void {
    for (const a of batch) {
      if (a.k === 'ev') {
        const w = this.watches.get(a.id);
        if (!w) continue;
        let ev: WatchEvent;
        try {
          ev = JSON.parse(a.line) as WatchEvent;
        } catch {
          continue;
        }
        try {
          w.onEvent(ev);
        } catch {
          // A handler's failure is its own; the stream goes on.
        }
      } else if (a.k === 'end') {
        const w = this.watches.get(a.id);
        if (!w) continue;
        this.watches.delete(a.id);
        w.resolve(a.error ? { error: fromWire(a.error) } : {});
      } else {
        const c = this.calls.get(a.id);
        if (!c) continue;
        this.calls.delete(a.id);
        if (a.k === 'ok') c.resolve(a.value);
        else c.reject(fromWire(a.error));
      }
    }
  }

  /** Every call and watch still open ends: the other side will not answer them. */
  private shut(): void {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.calls.values()) c.reject(portClosed());
    this.calls.clear();
    for (const w of this.watches.values()) w.resolve({ error: portClosed() });
    this.watches.clear();
  }

  private call(op: Call, args: unknown[]): Promise<any> {
    if (this.closed) return Promise.reject(portClosed());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.outbox.push({ k: 'call', id, op, args });
    });
  }

  get(t: Target): Promise<any> {
    return this.call('get', [t]);
  }
  list(t: Target, opts?: ListOptions): Promise<ObjectList> {
    return this.call('list', [t, opts]) as Promise<ObjectList>;
  }
  create(t: Target, body: any, opts?: WriteOptions): Promise<any> {
    return this.call('create', [t, body, opts]);
  }
  update(t: Target, body: any, opts?: WriteOptions): Promise<any> {
    return this.call('update', [t, body, opts]);
  }
  patch(t: Target, type: PatchType, patch: any, opts?: PatchOptions): Promise<any> {
    return this.call('patch', [t, type, patch, opts]);
  }
  delete(t: Target, opts?: DeleteOptions): Promise<any> {
    return this.call('delete', [t, opts]);
  }
  deleteCollection(t: Target, opts?: ListOptions & DeleteOptions): Promise<any> {
    return this.call('deleteCollection', [t, opts]);
  }
  discover(): Promise<DiscoveredResource[]> {
    return this.call('discover', []) as Promise<DiscoveredResource[]>;
  }

  watch(t: Target, opts: WatchOptions, onEvent: (ev: WatchEvent) => void): Watch {
    let resolve!: (end: WatchEnd) => void;
    const done = new Promise<WatchEnd>((r) => (resolve = r));
    if (this.closed) {
      resolve({ error: portClosed() });
      return { stop: () => undefined, done };
    }
    const id = this.nextId++;
    this.watches.set(id, { onEvent, resolve });
    this.outbox.push({ k: 'watch', id, target: t, opts });
    return {
      stop: () => {
        if (!this.watches.delete(id)) return;
        this.outbox.push({ k: 'unwatch', id });
        resolve({});
      },
      done,
    };
  }

  close(): Promise<void> {
    for (const [id, w] of this.watches) {
      this.outbox.push({ k: 'unwatch', id });
      w.resolve({});
    }
    this.watches.clear();
    this.outbox.flush();
    return Promise.resolve();
  }
}

/** A transport that can hand out watch events as JSON lines (the in-process transport). */
export interface LineWatcher {
  watchLines(t: Target, opts: WatchOptions, onLine: (line: string) => void): Watch;
}

export interface ServedPort {
  /** Stop every watch still open and stop answering. */
  close(): void;
}

/**
 * The serving side: answer each call arriving on the port with `transport`, and stream its watch
 * events back (as the transport's own JSON lines where it has them).
 */
export function serveTransport(port: MessagePort, transport: Transport & Partial<LineWatcher>): ServedPort {
  const outbox = new Outbox<Answer>(port);
  const watches = new Map<number, Watch>();
  let closed = false;
  const answer = (id: number, p: Promise<unknown>) =>
    p.then(
      (value) => !closed && outbox.push({ k: 'ok', id, value }),
      (err: unknown) => !closed && outbox.push({ k: 'err', id, error: toWire(err) }),
    );
  const startWatch = (id: number, target: Target, opts: WatchOptions) => {
    const onLine = (line: string) => outbox.push({ k: 'ev', id, line });
    const w = transport.watchLines
      ? transport.watchLines(target, opts, onLine)
      : transport.watch(target, opts, (ev) => onLine(JSON.stringify(ev)));
    watches.set(id, w);
    void w.done.then((end) => {
      if (watches.get(id) !== w) return;
      watches.delete(id);
      if (!closed) outbox.push({ k: 'end', id, error: end.error && toWire(end.error) });
    });
  };
  const onMessage = (batch: Request[]) => {
    if (closed) return;
    for (const r of batch) {
      if (r.k === 'call') {
        if (!CALLS.includes(r.op)) {
          void answer(r.id, Promise.reject(new ApiError(400, 'BadRequest', `unknown call ${String(r.op)}`, {})));
          continue;
        }
        const args = r.args;
        // A list is copied once, by the port: the transport may hand out the cache's own objects.
        if (r.op === 'list') args[1] = { ...(args[1] as ListOptions | undefined), shared: true };
        else if (r.op === 'create' || r.op === 'update' || r.op === 'patch') {
          // So is a write's answer; and its body, just cloned from the message, is nobody else's:
          // the transport may write into it instead of copying it.
          const at = r.op === 'patch' ? 2 : 1; // (t, body, opts) or (t, type, patch, opts)
          const body = args[at];
          if (typeof body === 'object' && body !== null) markUnshared(body);
          args[at + 1] = { ...(args[at + 1] as WriteOptions | undefined), shared: true };
        }
        let p: Promise<unknown>;
        try {
          p = (transport[r.op] as (...a: unknown[]) => Promise<unknown>).apply(transport, args);
        } catch (err) {
          p = Promise.reject(ApiError.from(err));
        }
        void answer(r.id, p);
      } else if (r.k === 'watch') {
        startWatch(r.id, r.target, r.opts);
      } else if (r.k === 'unwatch') {
        const w = watches.get(r.id);
        watches.delete(r.id);
        w?.stop();
      }
    }
  };
  port.on('message', onMessage);
  return {
    close() {
      if (closed) return;
      closed = true;
      port.off('message', onMessage);
      for (const w of watches.values()) w.stop();
      watches.clear();
    },
  };
}
