// TCP and UDP services exposed through ConfigMaps, as ingress-nginx (and RKE's bundled ingress)
// does with --tcp-services-configmap / --udp-services-configmap: each key is a port the ingress
// listens on, each value `namespace/service:port` (port by number or name). Connections (TCP) and
// datagrams (UDP, one upstream socket per client address) go straight to a ready endpoint of the
// Service, as HTTP routes do. Changes open and close listeners without touching the others; a
// connection in flight keeps its upstream when its mapping changes.
import { createServer as createTcpServer, connect, type Server, type Socket } from 'node:net';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Backends, Endpoint } from './backends.js';
import type { ServiceBackend } from './routes.js';

export type StreamProtocol = 'TCP' | 'UDP';

export interface StreamMapping {
  port: number;
  protocol: StreamProtocol;
  backend: ServiceBackend;
}

/**
 * The mappings of a tcp-services / udp-services ConfigMap's data. Values may carry ingress-nginx's
 * `:PROXY` suffixes (PROXY protocol), which k8ts does not speak: such entries are reported and skipped.
 */
export function parseStreamServices(
  data: Record<string, string> | undefined,
  protocol: StreamProtocol,
): { mappings: StreamMapping[]; problems: string[] } {
  const mappings: StreamMapping[] = [];
  const problems: string[] = [];
  for (const [key, value] of Object.entries(data ?? {})) {
    const port = Number(key);
    if (!/^\d+$/.test(key) || port < 1 || port > 65535) {
      problems.push(`${protocol} services: "${key}" is not a port number`);
      continue;
    }
    const m = /^([a-z0-9-]+)\/([a-z0-9-]+):([A-Za-z0-9-]+)((?::PROXY)*)$/.exec(value.trim());
    if (!m) {
      problems.push(`${protocol} services: "${key}": "${value}" is not namespace/service:port`);
      continue;
    }
    if (m[4]) {
      problems.push(`${protocol} services: "${key}": the PROXY protocol is not supported`);
      continue;
    }
    const byNumber = /^\d+$/.test(m[3]);
    mappings.push({
      port,
      protocol,
      backend: { namespace: m[1], service: m[2], port: byNumber ? { number: Number(m[3]) } : { name: m[3] } },
    });
  }
  return { mappings, problems };
}

interface Listener {
  mapping: StreamMapping;
  close(): Promise<void>;
}

/** A UDP client's flow: its own upstream socket, closed after `idleMs` without traffic either way. */
export const UDP_IDLE_MS = 60_000;

/**
 * Pipes a client connection to a backend endpoint (after replaying `head`, bytes already read);
 * either side closing or failing closes the other. Both sockets are kept in `sockets` while open.
 */
export function pipeToEndpoint(client: Socket, endpoint: Endpoint, sockets: Set<Duplex>, head: Buffer[] = []): void {
  const upstream = connect(endpoint.port, endpoint.address);
  sockets.add(upstream);
  upstream.on('close', () => sockets.delete(upstream));
  for (const b of head) upstream.write(b);
  client.pipe(upstream).pipe(client);
  client.resume();
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}

/** A listening TCP socket whose connections `accept` takes; close() also ends the connections. */
export async function listenTcp(
  port: number,
  bindAddress: string,
  accept: (client: Socket, sockets: Set<Socket>) => void,
): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createTcpServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    accept(client, sockets);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, bindAddress, () => resolve());
  });
  return { close: () => close(server, sockets) };
}

export interface UdpRelay {
  close(): Promise<void>;
  /** Client flows open now. */
  readonly flows: number;
  /** The port bound (the one asked for, or the kernel's pick for 0). */
  readonly port: number;
}

interface UdpFlow {
  socket: UdpSocket;
  timer: NodeJS.Timeout;
  /** Set until the upstream socket is connected. */
  pending?: Buffer[];
}

/**
 * A UDP port relaying datagrams per client flow (source address and port): a flow's first datagram
 * picks its endpoint (`pick`; undefined drops the datagram) and opens an upstream socket of its
 * own, whose replies go back to that client; the flow ends after `idleMs` without a datagram
 * either way, as conntrack's UDP timeout ends a NATed flow. Later datagrams of a flow keep its
 * endpoint, so a route change applies to new flows.
 */
export async function listenUdpRelay(o: {
  port: number;
  bindAddress: string;
  idleMs: number;
  pick: () => Endpoint | undefined;
}): Promise<UdpRelay> {
  const server = createSocket(o.bindAddress.includes(':') ? 'udp6' : 'udp4');
  const flows = new Map<string, UdpFlow>();
  server.on('message', (msg: Buffer, from: RemoteInfo) => {
    const id = `${from.address}|${from.port}`;
    let flow = flows.get(id);
    if (!flow) {
      const endpoint = o.pick();
      if (!endpoint) return;
      const socket = createSocket(endpoint.address.includes(':') ? 'udp6' : 'udp4');
      // Datagrams that arrive before the upstream socket is connected wait here.
      const f: UdpFlow = { socket, timer: setTimeout(() => end(), o.idleMs), pending: [] };
      const end = () => {
        clearTimeout(f.timer);
        if (flows.get(id) === f) flows.delete(id);
        socket.close();
      };
      socket.on('message', (reply: Buffer) => {
        server.send(reply, from.port, from.address);
        f.timer.refresh();
      });
      socket.on('error', end);
      socket.connect(endpoint.port, endpoint.address, () => {
        for (const m of f.pending ?? []) socket.send(m);
        f.pending = undefined;
      });
      flows.set(id, (flow = f));
    }
    flow.timer.refresh();
    if (flow.pending) flow.pending.push(msg);
    else flow.socket.send(msg);
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.bind(o.port, o.bindAddress, () => resolve());
  });
  return {
    get flows() {
      return flows.size;
    },
    port: server.address().port,
    close: async () => {
      for (const f of flows.values()) {
        clearTimeout(f.timer);
        f.socket.close();
      }
      flows.clear();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export class StreamProxy {
  private readonly listeners = new Map<string, Listener>();

  constructor(private readonly o: { bindAddress: string; backends: Backends; logger: Logger }) {}

  /** Opens, re-targets and closes listeners to match the mappings. */
  async update(mappings: readonly StreamMapping[]): Promise<void> {
    const want = new Map(mappings.map((m) => [`${m.protocol}/${m.port}`, m]));
    for (const [id, l] of this.listeners)
      if (!want.has(id)) {
        this.listeners.delete(id);
        await l.close();
      }
    for (const [id, m] of want) {
      const have = this.listeners.get(id);
      if (have) have.mapping = m;
      else {
        const l = await this.listen(m).catch((err: Error) => {
          this.o.logger.error({ err, port: m.port }, `ingress: cannot listen for ${m.protocol} on port ${m.port}`);
          return undefined;
        });
        if (l) this.listeners.set(id, l);
      }
    }
  }

  async stop(): Promise<void> {
    await this.update([]);
  }

  /** Ports listened on, by `PROTOCOL/port`. */
  get ports(): string[] {
    return [...this.listeners.keys()];
  }

  private async listen(mapping: StreamMapping): Promise<Listener> {
    const l: Listener = { mapping, close: () => Promise.resolve() };
    const pick = () => {
      const picked = this.o.backends.pick(l.mapping.backend, l.mapping.protocol);
      return 'problem' in picked ? undefined : picked.endpoint;
    };
    const { bindAddress } = this.o;
    const socket =
      mapping.protocol === 'TCP'
        ? await listenTcp(mapping.port, bindAddress, (client, sockets) => {
            const endpoint = pick();
            if (endpoint) pipeToEndpoint(client, endpoint, sockets);
            else client.destroy();
          })
        : await listenUdpRelay({ port: mapping.port, bindAddress, idleMs: UDP_IDLE_MS, pick });
    l.close = () => socket.close();
    return l;
  }
}

function close(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((r) => server.close(() => r()));
}
