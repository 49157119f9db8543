// Gateway listeners of protocol TCP (TCPRoute), UDP (UDPRoute) and TLS in Passthrough mode
// (TLSRoute), each on a socket of its own. A TCP connection goes to a backend of the port's route;
// a UDP client's flow (its address and port) to one backend picked by its first datagram, until it
// has been idle for the idle timeout (the relay of streams.ts, shared with the udp-services
// ConfigMap). A TLS connection is routed by the server name of its ClientHello (read from the
// first bytes, never decrypted) and the bytes read so far are replayed to the backend, which
// terminates TLS itself. Backends are
// picked by weight among the route's backendRefs, then an endpoint of that Service, as HTTP
// routes do. An unresolved backendRef's share of connections is refused (closed), of UDP
// flows dropped.
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Backends, Endpoint } from './backends.js';
import type { ServiceBackend, StreamRoute, WeightedBackend } from './routes.js';
import { listenTcp, listenUdpRelay, pipeToEndpoint, UDP_IDLE_MS } from './streams.js';

export interface StreamPort {
  port: number;
  protocol: 'TLS' | 'TCP' | 'UDP';
  routes: StreamRoute[];
}

/** How long a client may take to send its ClientHello, and the most bytes read looking for it. */
const HELLO_TIMEOUT_MS = 10_000;
const HELLO_MAX_BYTES = 16 * 1024 + 5;

/**
 * The server name (SNI) of a TLS ClientHello at the start of `buf`: a string, '' when the hello has
 * none, undefined while more bytes are needed, null when this is not a TLS ClientHello.
 */
export function serverName(buf: Buffer): string | undefined | null {
  if (buf.length < 5) return undefined;
  if (buf[0] !== 0x16) return null; // not a handshake record
  const recordEnd = 5 + buf.readUInt16BE(3);
  if (buf.length < recordEnd) return undefined;
  let i = 5;
  if (buf[i] !== 0x01) return null; // not a ClientHello
  const helloEnd = Math.min(recordEnd, i + 4 + buf.readUIntBE(i + 1, 3));
  i += 4 + 2 + 32; // type, length, version, random
  const need = (n: number) => i + n <= helloEnd;
  if (!need(1)) return null;
  i += 1 + buf[i]; // session id
  if (!need(2)) return null;
  i += 2 + buf.readUInt16BE(i); // cipher suites
  if (!need(1)) return null;
  i += 1 + buf[i]; // compression methods
  if (!need(2)) return '';
  const extEnd = Math.min(helloEnd, i + 2 + buf.readUInt16BE(i));
  i += 2;
  while (i + 4 <= extEnd) {
    const type = buf.readUInt16BE(i);
    const len = buf.readUInt16BE(i + 2);
    i += 4;
    if (type === 0 && i + 5 <= extEnd) {
      // server_name: a list of (type, length, name); type 0 is host_name.
      const nameLen = buf.readUInt16BE(i + 3);
      if (buf[i + 2] !== 0 || i + 5 + nameLen > extEnd) return '';
      return buf.toString('latin1', i + 5, i + 5 + nameLen).toLowerCase();
    }
    i += len;
  }
  return '';
}

/** The route for a server name: exact, then the longest `*.suffix`, then a route without hostnames. */
export function routeForName(routes: readonly StreamRoute[], name: string): StreamRoute | undefined {
  const exact = routes.find((r) => r.hosts.includes(name));
  if (exact) return exact;
  let best: StreamRoute | undefined;
  let bestLen = -1;
  for (const r of routes)
    for (const h of r.hosts)
      if (h.startsWith('*.') && name.endsWith(h.slice(1)) && h.length > bestLen) {
        best = r;
        bestLen = h.length;
      }
  return best ?? routes.find((r) => r.hosts.includes(''));
}

function pickWeighted(list: readonly WeightedBackend[]): ServiceBackend | undefined {
  const total = list.reduce((n, b) => n + b.weight, 0);
  let x = Math.random() * total;
  for (const b of list) if ((x -= b.weight) < 0) return b.backend;
  return list[list.length - 1]?.backend;
}

interface Open {
  spec: StreamPort;
  close(): Promise<void>;
}

export class GatewayStreams {
  private readonly open = new Map<number, Open>();
  private readonly udpIdleMs: number;

  constructor(private readonly o: { bindAddress: string; backends: Backends; logger: Logger; udpIdleMs?: number }) {
    this.udpIdleMs = o.udpIdleMs ?? UDP_IDLE_MS;
  }

  /** Opens, re-routes and closes ports to match; returns the ports that could not be listened on. */
  async update(ports: readonly StreamPort[]): Promise<Set<number>> {
    const want = new Map(ports.map((p) => [p.port, p]));
    for (const [port, o] of this.open) {
      const w = want.get(port);
      if (w && w.protocol === o.spec.protocol) continue;
      this.open.delete(port);
      await o.close();
    }
    const failed = new Set<number>();
    for (const [port, spec] of want) {
      const have = this.open.get(port);
      if (have) {
        have.spec = spec;
        continue;
      }
      const o: Open = { spec, close: () => Promise.resolve() };
      try {
        const socket =
          spec.protocol === 'UDP'
            ? await listenUdpRelay({
                port,
                bindAddress: this.o.bindAddress,
                idleMs: this.udpIdleMs,
                pick: () => routeEndpoint(this.o.backends, o.spec.routes[0], 'UDP'),
              })
            : await listenTcp(port, this.o.bindAddress, (client, sockets) => this.accept(o, client, sockets));
        o.close = () => socket.close();
        this.open.set(port, o);
      } catch (err) {
        this.o.logger.error({ err, port }, `ingress: cannot listen for Gateway ${spec.protocol} listener on ${port}`);
        failed.add(port);
      }
    }
    return failed;
  }

  get ports(): number[] {
    return [...this.open.keys()];
  }

  async stop(): Promise<void> {
    await this.update([]);
  }

  private accept(o: Open, client: Socket, sockets: Set<Socket>): void {
    const { backends } = this.o;
    if (o.spec.protocol === 'TCP') return splice(client, o.spec.routes[0], [], backends, sockets);
    // TLS passthrough: read until the ClientHello's server name is known.
    readServerName(client, (name, head) => splice(client, routeForName(o.spec.routes, name), head, backends, sockets));
  }
}

/** An endpoint of a backend picked by weight among the route's; undefined for an unresolved one. */
function routeEndpoint(
  backends: Backends,
  route: StreamRoute | undefined,
  protocol: 'TCP' | 'UDP',
): Endpoint | undefined {
  const backend = route && pickWeighted(route.backends);
  const picked = backend?.service ? backends.pick(backend, protocol) : undefined;
  return picked && 'endpoint' in picked ? picked.endpoint : undefined;
}

/**
 * Reads a connection's first bytes until its ClientHello's server name is known, then calls
 * `then` with it and the bytes read (the socket paused, nothing consumed for good). A connection
 * that does not start with a ClientHello, or takes too long to send it, is closed.
 */
export function readServerName(client: Socket, then: (name: string, head: Buffer[]) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const timer = setTimeout(() => client.destroy(), HELLO_TIMEOUT_MS);
  const onData = (d: Buffer) => {
    chunks.push(d);
    size += d.length;
    const name = serverName(chunks.length === 1 ? d : Buffer.concat(chunks));
    if (name === undefined && size < HELLO_MAX_BYTES) return;
    client.off('data', onData);
    client.pause();
    clearTimeout(timer);
    if (typeof name !== 'string') return void client.destroy();
    then(name, chunks);
  };
  client.on('data', onData);
  client.on('close', () => clearTimeout(timer));
}

/**
 * Connects a client to an endpoint of the route (a backend picked by weight) and splices the two
 * sockets; `head`, the bytes read from the client so far, goes first. No route or endpoint: the
 * connection is closed. The upstream socket is kept in `sockets` while open (to close it with its
 * listener).
 */
export function splice(
  client: Socket,
  route: StreamRoute | undefined,
  head: Buffer[],
  backends: Backends,
  sockets: Set<Duplex>,
): void {
  const endpoint = routeEndpoint(backends, route, 'TCP');
  if (endpoint) pipeToEndpoint(client, endpoint, sockets, head);
  else client.destroy();
}

/**
 * Terminates TLS on a client connection whose ClientHello (`head`) was already read, with
 * `context` (the certificate for its server name), and relays the decrypted bytes to an endpoint
 * of the route as plain TCP (HTTPProxy `tcpproxy` with `tls.secretName`). No endpoint: closed.
 */
export function terminateTls(
  client: Socket,
  head: Buffer[],
  context: SecureContext,
  route: StreamRoute,
  backends: Backends,
  sockets: Set<Duplex>,
): void {
  const endpoint = routeEndpoint(backends, route, 'TCP');
  if (!endpoint) return void client.destroy();
  // The TLS socket reads what was put back first (the ClientHello), then the connection itself.
  client.unshift(head.length === 1 ? head[0] : Buffer.concat(head));
  const tls = new TLSSocket(client, { isServer: true, secureContext: context });
  sockets.add(tls);
  tls.once('close', () => sockets.delete(tls));
  tls.on('error', () => tls.destroy());
  // The backend is connected once the handshake succeeded; the cleartext waits in the TLS socket.
  tls.once('secure', () => pipeToEndpoint(tls, endpoint, sockets));
}
