// The DNS listener: UDP and TCP on one address and port, handing each decoded query to the
// plugin chain. Whatever arrives, the server answers FORMERR/NOTIMP or drops it; a plugin that
// throws gives SERVFAIL. TCP connections carry any number of length-prefixed messages, are
// closed after an idle time, and are limited in number.
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server, type Socket as TcpSocket } from 'node:net';
import type { Logger } from 'pino';
import {
  encodeError,
  encodeReply,
  parseQuery,
  RCODE,
  reply,
  udpLimit,
  type DnsQuery,
  type DnsReply,
  type RecordType,
} from './message.js';
import type { DnsRequest, Next } from './plugin.js';
import { newNotes, type ReplyNotes, type WireCache } from './wirecache.js';

/** CNAME chasing and autopath resolve names again through the chain; this bounds the recursion. */
const MAX_DEPTH = 8;
const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNECTIONS = 512;

/** A handler that can be swapped while serving (a reloaded Corefile). */
export interface HandlerRef {
  current: Next;
  /** Replies to repeated questions, as bytes (swapped with the handler). */
  wire?: WireCache;
}

export interface StreamingTransfer {
  /** Answers AXFR with a sequence of messages (TCP only); undefined: not a transfer this handles. */
  transfer(req: DnsRequest): AsyncIterable<DnsReply> | undefined;
}

export interface DnsServerOptions {
  address: string;
  port: number;
  handler: HandlerRef;
  transfer?: StreamingTransfer;
  logger?: Logger;
}

/** Runs one query through the chain (exported for tests and benchmarks without sockets). */
export async function handle(
  handler: HandlerRef,
  query: DnsQuery,
  transport: 'udp' | 'tcp',
  remoteAddress: string,
  depth = 0,
  notes?: ReplyNotes,
): Promise<DnsReply> {
  const req: DnsRequest = {
    query,
    transport,
    remoteAddress,
    depth,
    notes,
    resolve: (name: string, type: RecordType) => {
      if (depth + 1 >= MAX_DEPTH) return Promise.resolve(reply(RCODE.SERVFAIL));
      const q: DnsQuery = {
        ...query,
        question: { name, type, class: 'IN' },
        qname: name.toLowerCase().replace(/\.$/, ''),
      };
      return handle(handler, q, transport, remoteAddress, depth + 1, notes);
    },
  };
  try {
    return await handler.current(req);
  } catch {
    return reply(RCODE.SERVFAIL);
  }
}

export class DnsServer {
  private udp?: Socket;
  private tcp?: Server;
  private readonly conns = new Set<TcpSocket>();
  port = 0;

  constructor(private readonly o: DnsServerOptions) {}

  async start(): Promise<void> {
    const family = this.o.address.includes(':') ? 'udp6' : 'udp4';
    const udp = createSocket({ type: family, reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(this.o.port, this.o.address, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udp.on('error', (err) => this.o.logger?.warn({ err }, 'dns: UDP socket error'));
    udp.on('message', (msg, rinfo) => void this.onUdp(msg, rinfo.address, rinfo.port));
    this.udp = udp;
    this.port = udp.address().port;
    const tcp = createServer({ pauseOnConnect: false }, (s) => this.onTcp(s));
    tcp.maxConnections = MAX_TCP_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(this.port, this.o.address, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.o.logger?.warn({ err }, 'dns: TCP listener error'));
    this.tcp = tcp;
  }

  /** The reply bytes for one received message (undefined: dropped, or a transfer already streamed). */
  async respond(
    msg: Buffer,
    transport: 'udp' | 'tcp',
    remote: string,
    maxSize?: number,
    onTransfer?: (r: DnsRequest) => boolean,
  ): Promise<Buffer | undefined> {
    // (A caller's own size limit is not part of the cache key.)
    const wire = maxSize === undefined ? this.o.handler.wire : undefined;
    const cached = wire?.get(msg, transport, remote);
    if (cached) return cached;
    const parsed = parseQuery(msg);
    if (parsed.kind === 'drop') return undefined;
    if (parsed.kind === 'error') return encodeError(parsed);
    const q = parsed.query;
    if (q.question.type === 'AXFR' || q.question.type === 'IXFR') {
      // Zone transfers exist over TCP only (RFC 5936); over UDP they are refused.
      if (transport === 'udp' || !onTransfer) return encodeReply(q, reply(RCODE.REFUSED, [], [], [], false));
      const req = {
        query: q,
        transport,
        remoteAddress: remote,
        depth: 0,
        resolve: () => Promise.resolve(reply(RCODE.SERVFAIL)),
      } as DnsRequest;
      if (onTransfer(req)) return undefined;
      return encodeReply(q, reply(RCODE.REFUSED, [], [], [], false));
    }
    const notes = wire && newNotes();
    const r = await handle(this.o.handler, q, transport, remote, 0, notes);
    const out = encodeReply(q, r, maxSize ?? (transport === 'udp' ? udpLimit(q) : 65535));
    // Kept only for the chain that computed it (a reloaded Corefile brings a new cache).
    if (notes && wire === this.o.handler.wire) wire.put(msg, transport, remote, r, out, notes);
    return out;
  }

  private async onUdp(msg: Buffer, address: string, port: number): Promise<void> {
    try {
      const out = await this.respond(msg, 'udp', address);
      if (out) this.udp?.send(out, port, address);
    } catch (err) {
      this.o.logger?.debug({ err }, 'dns: UDP query failed');
    }
  }

  private onTcp(s: TcpSocket): void {
    this.conns.add(s);
    s.setTimeout(TCP_IDLE_MS, () => s.destroy());
    s.on('error', () => s.destroy());
    s.on('close', () => this.conns.delete(s));
    let buf = Buffer.alloc(0);
    let busy = Promise.resolve();
    s.on('data', (chunk) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        // Replies go out in the order the queries came.
        busy = busy.then(() => this.onTcpMessage(s, Buffer.from(msg))).catch(() => void s.destroy());
      }
    });
  }

  private async onTcpMessage(s: TcpSocket, msg: Buffer): Promise<void> {
    const write = (b: Buffer) => {
      if (s.destroyed) return;
      const frame = Buffer.alloc(2 + b.length);
      frame.writeUInt16BE(b.length, 0);
      b.copy(frame, 2);
      s.write(frame);
    };
    let transferring: Promise<void> | undefined;
    const out = await this.respond(msg, 'tcp', s.remoteAddress ?? '', undefined, (req) => {
      const stream = this.o.transfer?.transfer(req);
      if (!stream) return false;
      transferring = (async () => {
        for await (const part of stream) write(encodeReply(req.query, part));
      })();
      return true;
    });
    if (transferring) await transferring;
    if (out) write(out);
  }

  async stop(): Promise<void> {
    // Stopping twice is harmless (a test or a reload may stop a server already stopped).
    const { tcp, udp } = this;
    this.tcp = undefined;
    this.udp = undefined;
    for (const c of this.conns) c.destroy();
    await new Promise<void>((resolve) => (tcp ? tcp.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (udp ? udp.close(() => resolve()) : resolve()));
  }
}
