// The userspace proxy mode: an L4 proxy inside the agent, in the manner of kube-proxy's old
// userspace mode with IPVS's schedulers. Every Service port gets a listener of its own (TCP server
// or UDP socket) on an ephemeral port of all addresses; the kernel only redirects the Service's
// addresses to it (nftables `redirect` in a table of this cluster, root only), and NodePorts are
// bound directly, so they also work without root (the process runtime as a user). One listener
// per port is what lets the proxy know the Service without SO_ORIGINAL_DST, which Node.js lacks.
//
// A new connection goes to the backend the Service's scheduler picks (annotation
// k8ts.io/lb-scheduler, default --lb-scheduler), or to the one the client is pinned to under
// sessionAffinity ClientIP. A port without endpoints resets connections at once (a REJECT's effect).
import { createSocket, type Socket as UdpSocket, type RemoteInfo } from 'node:dgram';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ServicePort } from './model.js';
import { makeScheduler, type Backend, type Pick } from './schedulers.js';
import { nft } from './nftbackend.js';
import type { ProxyBackend } from './proxier.js';

/** How long a UDP client's flow stays mapped to its backend without traffic. */
const UDP_IDLE_MS = 60_000;
/** How long a closed connection still counts as "inactive" for the lc family. */
const INACTIVE_MS = 60_000;

interface Listener {
  close(): void;
  readonly port: number;
}

/** One Service port: its backends with their connection counts, scheduler and affinity table. */
export class PortBalancer {
  backends: (Backend & { ip: string; port: number })[] = [];
  private pick: Pick;
  private affinity = new Map<string, { id: string; until: number }>();
  /** Closed connections still counted as inactive, oldest first, with when each stops counting. */
  private closedBackends: Backend[] = [];
  private closedUntil: number[] = [];
  private closedHead = 0;

  constructor(
    public sp: ServicePort,
    /** How long a closed connection still counts as inactive (lc family). */
    private readonly inactiveMs = INACTIVE_MS,
  ) {
    this.pick = makeScheduler(sp.scheduler);
  }

  update(sp: ServicePort): void {
    if (sp.scheduler !== this.sp.scheduler) this.pick = makeScheduler(sp.scheduler);
    this.sp = sp;
    const old = new Map(this.backends.map((b) => [b.id, b]));
    // Counts survive an update: connections in flight keep weighing on their backend.
    this.backends = sp.clusterEndpoints.map(
      (e) =>
        old.get(`${e.ip}:${e.port}`) ?? {
          id: `${e.ip}:${e.port}`,
          ip: e.ip,
          port: e.port,
          weight: e.weight,
          active: 0,
          inactive: 0,
        },
    );
  }

  /** Whether choose() reads the client's address (source hashing, sessionAffinity ClientIP). */
  get needsClient(): boolean {
    return this.sp.scheduler === 'sh' || this.sp.affinitySeconds !== undefined;
  }

  /** The backend for a new connection from `client` (undefined: no endpoints). */
  choose(client: string, destination: string): (Backend & { ip: string; port: number }) | undefined {
    const now = Date.now();
    this.expireInactive(now);
    const seconds = this.sp.affinitySeconds;
    if (seconds !== undefined) {
      const pinned = this.affinity.get(client);
      const b = pinned && pinned.until > now ? this.backends.find((x) => x.id === pinned.id) : undefined;
      if (b) {
        pinned!.until = now + seconds * 1000;
        return b;
      }
    }
    const b = this.pick(this.backends, client, destination) as (Backend & { ip: string; port: number }) | undefined;
    if (b && seconds !== undefined) this.affinity.set(client, { id: b.id, until: now + seconds * 1000 });
    return b;
  }

  opened(b: Backend): void {
    b.active++;
  }

  closed(b: Backend): void {
    b.active = Math.max(0, b.active - 1);
    b.inactive++;
    // One queue per port instead of a timer per connection: every entry lives INACTIVE_MS, so
    // the queue is in expiry order and choose() drops the expired head before it schedules.
    this.closedBackends.push(b);
    this.closedUntil.push(Date.now() + this.inactiveMs);
  }

  private expireInactive(now: number): void {
    const until = this.closedUntil;
    let h = this.closedHead;
    while (h < until.length && until[h] <= now) {
      const b = this.closedBackends[h];
      b.inactive = Math.max(0, b.inactive - 1);
      h++;
    }
    if (h > 1024 && h * 2 > until.length) {
      this.closedBackends = this.closedBackends.slice(h);
      this.closedUntil = until.slice(h);
      h = 0;
    }
    this.closedHead = h;
  }
}

/**
 * Copies `from`'s data to `to`, pausing `from` while `to`'s buffer is full (what pipe() does,
 * without its stream machinery: one data handler per direction). `from`'s end half-closes `to`.
 */
function relay(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  // (ending an ended socket builds an ERR_STREAM_ALREADY_FINISHED error, stack and all: skip it)
  from.on('end', () => {
    if (!to.writableEnded) to.end();
  });
}

function listenTCP(balancer: PortBalancer, port: number, log: Logger): Promise<Listener> {
  // pauseOnConnect: nothing is read from the client before its backend has accepted.
  const server: Server = createServer({ pauseOnConnect: true, noDelay: true }, (client: Socket) => {
    client.on('error', () => undefined);
    // The client's address costs a getpeername(2); only source hashing and affinity need it.
    const from = balancer.needsClient ? (client.remoteAddress?.replace(/^::ffff:/, '') ?? '') : '';
    let tried: Set<string> | undefined;
    const attempt = (): void => {
      const b = tried
        ? balancer.backends.find((x) => !tried!.has(x.id))
        : balancer.choose(from, balancer.sp.clusterIPs[0]);
      if (!b) {
        client.resetAndDestroy();
        return;
      }
      (tried ??= new Set()).add(b.id);
      balancer.opened(b);
      const upstream = connect({ host: b.ip, port: b.port, noDelay: true });
      let connected = false;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        balancer.closed(b);
      };
      upstream.once('connect', () => {
        connected = true;
        relay(client, upstream);
        relay(upstream, client);
        client.resume();
      });
      upstream.on('error', () => {
        finish();
        // A backend that refuses: try the others, as kube-proxy's userspace mode did.
        if (!connected && !client.destroyed) attempt();
        else client.destroy();
      });
      upstream.on('close', () => {
        finish();
        if (connected && !client.writableEnded) client.end();
      });
      client.on('close', () => upstream.destroy());
    };
    attempt();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '0.0.0.0', exclusive: true }, () => {
      server.off('error', reject);
      server.on('error', (err) => log.warn({ err }, 'userspace proxy listener failed'));
      resolve({ port: (server.address() as { port: number }).port, close: () => server.close() });
    });
  });
}

function listenUDP(balancer: PortBalancer, port: number): Promise<Listener> {
  const socket: UdpSocket = createSocket('udp4');
  const flows = new Map<string, { upstream: UdpSocket; timer: NodeJS.Timeout; backend: Backend }>();
  const end = (key: string) => {
    const f = flows.get(key);
    if (!f) return;
    flows.delete(key);
    clearTimeout(f.timer);
    f.upstream.close();
    balancer.closed(f.backend);
  };
  socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    let f = flows.get(key);
    if (f && !balancer.backends.includes(f.backend as never)) {
      end(key); // its backend went away
      f = undefined;
    }
    if (!f) {
      const b = balancer.choose(rinfo.address, balancer.sp.clusterIPs[0]);
      if (!b) return;
      const upstream = createSocket('udp4');
      upstream.on('message', (reply) => {
        socket.send(reply, rinfo.port, rinfo.address);
        const flow = flows.get(key);
        flow?.timer.refresh();
      });
      upstream.on('error', () => end(key));
      upstream.connect(b.port, b.ip);
      balancer.opened(b);
      f = { upstream, backend: b, timer: setTimeout(() => end(key), UDP_IDLE_MS) };
      f.timer.unref?.();
      flows.set(key, f);
      const target = f;
      upstream.once('connect', () => target.upstream.send(msg));
      return;
    }
    f.timer.refresh();
    f.upstream.send(msg);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, address: '0.0.0.0', exclusive: true }, () => {
      socket.off('error', reject);
      resolve({
        port: socket.address().port,
        close: () => {
          for (const k of [...flows.keys()]) end(k);
          socket.close();
        },
      });
    });
  });
}

interface PortState {
  balancer: PortBalancer;
  listener: Listener;
  /** The NodePort bound directly (when the Service has one). */
  nodePort?: { port: number; listener: Listener };
}

export class UserspaceBackend implements ProxyBackend {
  readonly mode = 'userspace';
  private ports = new Map<string, PortState>();
  private rulesText = '';
  private readonly redirect: boolean;

  constructor(
    private table: string,
    private log: Logger,
    /** Whether the kernel may be asked to redirect Service addresses (root with nft). */
    redirect = process.getuid?.() === 0,
  ) {
    this.redirect = redirect;
  }

  /** The listener port of a Service port (tests, benchmarks). */
  listenerPort(key: string, protocol = 'TCP'): number | undefined {
    return this.ports.get(`${key}/${protocol}`)?.listener.port;
  }

  balancer(key: string, protocol = 'TCP'): PortBalancer | undefined {
    return this.ports.get(`${key}/${protocol}`)?.balancer;
  }

  async sync(ports: ServicePort[]): Promise<void> {
    const wanted = new Map(ports.filter((p) => p.protocol !== 'SCTP').map((p) => [`${p.key}/${p.protocol}`, p]));
    for (const [key, st] of this.ports) {
      if (wanted.has(key)) continue;
      st.listener.close();
      st.nodePort?.listener.close();
      this.ports.delete(key);
    }
    for (const [key, sp] of wanted) {
      let st = this.ports.get(key);
      if (!st) {
        const balancer = new PortBalancer(sp);
        balancer.update(sp);
        const listener = await (sp.protocol === 'UDP' ? listenUDP(balancer, 0) : listenTCP(balancer, 0, this.log));
        st = { balancer, listener };
        this.ports.set(key, st);
      } else st.balancer.update(sp);
      if (st.nodePort && st.nodePort.port !== sp.nodePort) {
        st.nodePort.listener.close();
        st.nodePort = undefined;
      }
      if (sp.nodePort && !st.nodePort) {
        try {
          const l = await (sp.protocol === 'UDP'
            ? listenUDP(st.balancer, sp.nodePort)
            : listenTCP(st.balancer, sp.nodePort, this.log));
          st.nodePort = { port: sp.nodePort, listener: l };
        } catch (err) {
          this.log.warn(
            { service: sp.key, nodePort: sp.nodePort, err: (err as Error).message },
            'cannot listen on the NodePort',
          );
        }
      }
    }
    if (this.redirect) await this.programRedirects();
  }

  /** The redirect table: every Service address and port to its listener, from pods (prerouting) and this host (output). */
  redirectRules(): string {
    const t = `ip ${this.table}`;
    const lines = [
      `add table ${t}`,
      `delete table ${t}`,
      `add table ${t}`,
      `add chain ${t} nat-prerouting { type nat hook prerouting priority -100; policy accept; }`,
      `add chain ${t} nat-output { type nat hook output priority -100; policy accept; }`,
      `add chain ${t} services`,
      `add rule ${t} nat-prerouting jump services`,
      `add rule ${t} nat-output jump services`,
    ];
    for (const { balancer, listener } of [...this.ports.values()].sort((a, b) =>
      a.balancer.sp.key < b.balancer.sp.key ? -1 : 1,
    )) {
      const sp = balancer.sp;
      const proto = sp.protocol.toLowerCase();
      for (const ip of [...sp.clusterIPs, ...sp.externalIPs, ...sp.loadBalancerIPs])
        lines.push(`add rule ${t} services ip daddr ${ip} ${proto} dport ${sp.port} redirect to :${listener.port}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private async programRedirects(): Promise<void> {
    const text = this.redirectRules();
    if (text === this.rulesText) return;
    await nft(text);
    this.rulesText = text;
  }

  stop(): Promise<void> {
    for (const st of this.ports.values()) {
      st.listener.close();
      st.nodePort?.listener.close();
    }
    this.ports.clear();
    return Promise.resolve();
  }

  async cleanup(): Promise<void> {
    for (const st of this.ports.values()) {
      st.listener.close();
      st.nodePort?.listener.close();
    }
    this.ports.clear();
    if (this.redirect) await nft(`add table ip ${this.table}\ndelete table ip ${this.table}\n`).catch(() => undefined);
    this.rulesText = '';
  }
}
