// Keep-alive connections to HTTP/1.1 upstreams (plain TCP), per endpoint, for the ingress fast
// path. A connection serves one exchange at a time (no pipelining); its socket's events go to the
// exchange that holds it, and an idle one that the upstream closes (or that stays idle past
// IDLE_MS, under the keep-alive timeouts of common servers, as undici's default) is dropped.
import { connect, type Socket } from 'node:net';

/** What an exchange holding a connection hears from it. */
export interface UpstreamUser {
  onUpstreamData(chunk: Buffer): void;
  onUpstreamError(err: Error & { code?: string }): void;
  onUpstreamClose(): void;
  onUpstreamDrain(): void;
}

const IDLE_MS = 4_000;
/** Idle connections kept per endpoint (as nginx's `keepalive`): more are closed when released. */
const MAX_IDLE = 64;

export class UpstreamConnection {
  user?: UpstreamUser;
  /** Has served an exchange before (a failure before any answer may be the upstream closing it). */
  reused = false;
  idleSince = 0;

  constructor(
    readonly key: string,
    readonly socket: Socket,
    private readonly pool: UpstreamPool,
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (!this.user) return void socket.destroy(); // bytes from an idle upstream: not reusable
      try {
        this.user.onUpstreamData(chunk);
      } catch {
        socket.destroy(); // a bug must cost this exchange (its close ends it), not the server
      }
    });
    socket.on('error', (err) => this.user?.onUpstreamError(err));
    socket.on('close', () => {
      this.pool.forget(this);
      const user = this.user;
      this.user = undefined;
      user?.onUpstreamClose();
    });
    socket.on('drain', () => this.user?.onUpstreamDrain());
  }
}

export class UpstreamPool {
  private readonly idle = new Map<string, UpstreamConnection[]>();
  private sweeper?: NodeJS.Timeout;

  /** An idle connection to the endpoint, or a new one (connecting; writes are queued until it is). */
  acquire(address: string, port: number, user: UpstreamUser): UpstreamConnection {
    const key = `${address}:${port}`;
    const list = this.idle.get(key);
    let conn: UpstreamConnection | undefined;
    while (list?.length) {
      const c = list.pop()!;
      if (!c.socket.destroyed && c.socket.writable) {
        conn = c;
        break;
      }
    }
    if (conn) conn.reused = true;
    else conn = new UpstreamConnection(key, connect(port, address), this);
    conn.user = user;
    return conn;
  }

  /** Gives a connection whose exchange ended cleanly back for the next request. */
  release(conn: UpstreamConnection): void {
    conn.user = undefined;
    if (conn.socket.destroyed) return;
    let list = this.idle.get(conn.key);
    if (!list) this.idle.set(conn.key, (list = []));
    if (list.length >= MAX_IDLE) return void conn.socket.destroy();
    conn.idleSince = performance.now();
    conn.socket.resume();
    list.push(conn);
    this.sweeper ??= setInterval(() => this.sweep(), 1_000).unref();
  }

  forget(conn: UpstreamConnection): void {
    const list = this.idle.get(conn.key);
    const i = list?.indexOf(conn) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  private sweep(): void {
    const old = performance.now() - IDLE_MS;
    let left = 0;
    for (const [key, list] of this.idle) {
      for (const c of list.filter((c) => c.idleSince < old)) c.socket.destroy();
      const keep = list.filter((c) => c.idleSince >= old && !c.socket.destroyed);
      if (keep.length) this.idle.set(key, keep);
      else this.idle.delete(key);
      left += keep.length;
    }
    if (!left) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const list of this.idle.values()) for (const c of list) c.socket.destroy();
    this.idle.clear();
  }
}
