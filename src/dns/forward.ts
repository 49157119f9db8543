// The forward plugin: names no other plugin answered go to upstream resolvers (the host's
// /etc/resolv.conf by default), over UDP with a fallback to TCP for truncated replies. Upstreams
// are tried in turn until one answers; none answering is SERVFAIL (the cache may then serve a
// stale answer). Each reply is matched by ID, source and question, so a spoofed or late reply
// for another query is ignored.
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { randomInt } from 'node:crypto';
import { decodeReply, encodeQuery, RCODE, reply, type DnsReply } from './message.js';
import type { DnsRequest, Next, Plugin } from './plugin.js';
import { inZone } from './plugin.js';

export interface Upstream {
  host: string;
  port: number;
}

export interface ForwardOptions {
  /** The zone this forwards ('' = every name). */
  from: string;
  to: Upstream[];
  timeoutMs?: number;
  /** Zones not to forward (CoreDNS's `except`). */
  except?: string[];
}

/** "1.2.3.4", "1.2.3.4:5353", "[::1]:53", "dns://1.2.3.4" → Upstream. */
export function parseUpstream(s: string): Upstream | undefined {
  const t = s.replace(/^dns:\/\//, '');
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (v6) return { host: v6[1], port: v6[2] ? +v6[2] : 53 };
  const m = /^([^:]+)(?::(\d+))?$/.exec(t);
  if (m && /^[\d.]+$/.test(m[1])) return { host: m[1], port: m[2] ? +m[2] : 53 };
  if (t.includes(':') && !t.includes('[')) return { host: t, port: 53 };
  return undefined;
}

interface Pending {
  resolve(buf: Buffer): void;
  upstream: Upstream;
}

export class ForwardPlugin implements Plugin {
  readonly name = 'forward';
  private sockets = new Map<'udp4' | 'udp6', Socket>();
  private pending = new Map<number, Pending>();
  private readonly timeoutMs: number;

  constructor(readonly opts: ForwardOptions) {
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const qname = req.query.qname;
    if (!inZone(qname, this.opts.from) || this.opts.except?.some((z) => inZone(qname, z))) return next(req);
    for (const up of this.opts.to) {
      const r = await this.exchange(up, req).catch(() => undefined);
      if (r) return r;
    }
    return reply(RCODE.SERVFAIL, [], [], [], false);
  }

  private async exchange(up: Upstream, req: DnsRequest): Promise<DnsReply | undefined> {
    const q = req.query.question;
    const id = this.freeId();
    const msg = encodeQuery(
      id,
      { name: q.name, type: q.type, class: q.class ?? 'IN' },
      { rd: true, udpSize: 1232, do: req.query.edns?.do },
    );
    let raw = await this.udpExchange(up, id, msg);
    if (!raw) return undefined;
    let r = decodeReply(raw);
    if (r.truncated) {
      raw = await this.tcpExchange(up, msg);
      if (!raw) return undefined;
      r = decodeReply(raw);
    }
    const rq = r.questions?.[0];
    if (r.id !== id || !rq || rq.name.toLowerCase() !== q.name.toLowerCase().replace(/\.$/, '') || rq.type !== q.type)
      return undefined;
    return reply(
      r.rcode,
      r.answers ?? [],
      r.authorities ?? [],
      (r.additionals ?? []).filter((a) => a.type !== 'OPT'),
      false,
    );
  }

  private freeId(): number {
    for (;;) {
      const id = randomInt(0, 65536);
      if (!this.pending.has(id)) return id;
    }
  }

  private socket(family: 'udp4' | 'udp6'): Socket {
    let s = this.sockets.get(family);
    if (s) return s;
    s = createSocket(family);
    s.on('message', (buf, rinfo) => {
      if (buf.length < 12) return;
      const p = this.pending.get(buf.readUInt16BE(0));
      if (p && p.upstream.host === rinfo.address && p.upstream.port === rinfo.port) p.resolve(buf);
    });
    s.on('error', () => undefined);
    s.unref();
    this.sockets.set(family, s);
    return s;
  }

  private udpExchange(up: Upstream, id: number, msg: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(undefined), this.timeoutMs);
      const done = (b: Buffer | undefined) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(b);
      };
      this.pending.set(id, { resolve: done, upstream: up });
      this.socket(up.host.includes(':') ? 'udp6' : 'udp4').send(msg, up.port, up.host, (err) => err && done(undefined));
    });
  }

  private tcpExchange(up: Upstream, msg: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const s = connect({ host: up.host, port: up.port });
      let buf = Buffer.alloc(0);
      const finish = (b: Buffer | undefined) => {
        s.destroy();
        resolve(b);
      };
      s.setTimeout(this.timeoutMs, () => finish(undefined));
      s.on('error', () => finish(undefined));
      s.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(msg.length);
        s.write(Buffer.concat([len, msg]));
      });
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) finish(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      });
    });
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
