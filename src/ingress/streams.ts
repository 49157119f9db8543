// TCP and UDP services exposed through ConfigMaps, as ingress-nginx (and RKE's bundled ingress)
// does with --tcp-services-configmap / --udp-services-configmap: each key is a port the ingress
// listens on, each value `namespace/service:port` (port by number or name). Connections (TCP) and
// datagrams (UDP, one upstream socket per client address) go straight to a ready endpoint of the
// Service, as HTTP routes do. Changes open and close listeners without touching the others; a
// connection in flight keeps its upstream when its mapping changes.
import { createServer as createTcpServer, connect, type Server, type Socket } from 'node:net';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import type { Logger } from 'pino';
import type { Backends } from './backends.js';
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

/** A UDP client's session: its own upstream socket, closed after this long without traffic. */
const UDP_IDLE_MS = 60_000;

interface UdpSession {
  socket: UdpSocket;
  timer: NodeJS.Timeout;
  /** Set until the upstream socket is connected. */
  pending?: Buffer[];
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
        const l = await (m.protocol === 'TCP' ? this.listenTcp(m) : this.listenUdp(m)).catch((err: Error) => {
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

  private async listenTcp(mapping: StreamMapping): Promise<Listener> {
    const sockets = new Set<Socket>();
    const l: Listener = { mapping, close: () => close(server, sockets) };
    const server: Server = createTcpServer((client) => {
      sockets.add(client);
      client.on('close', () => sockets.delete(client));
      const picked = this.o.backends.pick(l.mapping.backend, 'TCP');
      if ('problem' in picked) {
        client.destroy();
        return;
      }
      const upstream = connect(picked.endpoint.port, picked.endpoint.address);
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(mapping.port, this.o.bindAddress, () => resolve());
    });
    return l;
  }

  private async listenUdp(mapping: StreamMapping): Promise<Listener> {
    const family = this.o.bindAddress.includes(':') ? 'udp6' : 'udp4';
    const server = createSocket(family);
    const sessions = new Map<string, UdpSession>();
    const l: Listener = {
      mapping,
      close: async () => {
        for (const s of sessions.values()) {
          clearTimeout(s.timer);
          s.socket.close();
        }
        sessions.clear();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
    server.on('message', (msg: Buffer, from: RemoteInfo) => {
      const id = `${from.address}|${from.port}`;
      let session = sessions.get(id);
      if (!session) {
        const picked = this.o.backends.pick(l.mapping.backend, 'UDP');
        if ('problem' in picked) return;
        const socket = createSocket(picked.endpoint.address.includes(':') ? 'udp6' : 'udp4');
        // Datagrams that arrive before the upstream socket is connected wait here.
        const s: UdpSession = { socket, timer: setTimeout(() => end(), UDP_IDLE_MS), pending: [] };
        const end = () => {
          clearTimeout(s.timer);
          sessions.delete(id);
          socket.close();
        };
        socket.on('message', (reply: Buffer) => {
          server.send(reply, from.port, from.address);
          s.timer.refresh();
        });
        socket.on('error', end);
        socket.connect(picked.endpoint.port, picked.endpoint.address, () => {
          for (const m of s.pending ?? []) socket.send(m);
          s.pending = undefined;
        });
        sessions.set(id, (session = s));
      }
      session.timer.refresh();
      if (session.pending) session.pending.push(msg);
      else session.socket.send(msg);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.bind(mapping.port, this.o.bindAddress, () => resolve());
    });
    return l;
  }
}

function close(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((r) => server.close(() => r()));
}
