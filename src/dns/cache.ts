// The cache plugin: replies of the plugins after it, kept for their TTL (capped: 3600 s for
// answers, 1800 s for denials, as CoreDNS), with TTLs counted down on every hit. Negative
// answers (NXDOMAIN, NODATA) live as long as their SOA's minimum says (RFC 2308). When the next
// plugin fails (SERVFAIL: the upstreams are down) an expired entry is served for up to
// `serveStaleSeconds` with TTL 30 s, as CoreDNS's serve_stale.
import type { Answer } from './message.js';
import { minTtl, RCODE, type DnsReply } from './message.js';
import type { DnsRequest, Next, Plugin } from './plugin.js';
import { inZone } from './plugin.js';

export interface CacheOptions {
  zones: string[];
  capacity: number;
  successTtl: number;
  denialTtl: number;
  serveStaleSeconds: number;
}

export const DEFAULT_CACHE: CacheOptions = {
  zones: [''],
  capacity: 9984,
  successTtl: 3600,
  denialTtl: 1800,
  serveStaleSeconds: 0,
};

interface Entry {
  reply: DnsReply;
  stored: number;
  expires: number;
}

export interface CacheStats {
  hit(type: 'success' | 'denial'): void;
  miss(): void;
}

function withTtlLeft(records: Answer[], elapsed: number, floor: number): Answer[] {
  return records.map((r) =>
    r.type === 'OPT' || typeof r.ttl !== 'number' ? r : { ...r, ttl: Math.max(floor, r.ttl - elapsed) },
  );
}

export class CachePlugin implements Plugin {
  readonly name = 'cache';
  private readonly entries = new Map<string, Entry>();

  constructor(
    readonly opts: CacheOptions = DEFAULT_CACHE,
    private readonly stats?: CacheStats,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const q = req.query;
    if (!this.opts.zones.some((z) => inZone(q.qname, z))) return next(req);
    const key = `${q.qname}|${q.question.type}|${q.question.class ?? 'IN'}|${q.edns?.do ? 1 : 0}`;
    const now = this.now();
    const hit = this.entries.get(key);
    if (hit && hit.expires > now) {
      const type = hit.reply.rcode === RCODE.NOERROR && hit.reply.answers.length ? 'success' : 'denial';
      this.stats?.hit(type);
      // The same reply served again from the wire cache is a hit of this cache too.
      req.notes?.hooks.push(() => this.stats?.hit(type));
      // Most recently used last: eviction takes the first.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return this.asAsked(this.aged(hit, now, 0), q.question.name);
    }
    this.stats?.miss();
    const r = await next(req);
    if (r.rcode === RCODE.SERVFAIL || r.rcode === RCODE.REFUSED) {
      if (hit && now - hit.expires < this.opts.serveStaleSeconds)
        return this.asAsked(this.aged(hit, now, 30, true), q.question.name);
      return r;
    }
    const ttl = this.ttlOf(r);
    if (ttl > 0) {
      this.entries.delete(key);
      this.entries.set(key, { reply: r, stored: now, expires: now + ttl });
      while (this.entries.size > this.opts.capacity) this.entries.delete(this.entries.keys().next().value!);
    }
    return r;
  }

  /** The cached reply with the asked name's spelling (clients may randomize case, 0x20). */
  private asAsked(r: DnsReply, asked: string): DnsReply {
    const lower = asked.toLowerCase().replace(/\.$/, '');
    const rename = (a: Answer) =>
      a.name.toLowerCase().replace(/\.$/, '') === lower && a.name !== asked ? { ...a, name: asked } : a;
    return { ...r, answers: r.answers.map(rename), authorities: r.authorities };
  }

  private ttlOf(r: DnsReply): number {
    const positive = r.rcode === RCODE.NOERROR && r.answers.length > 0;
    if (positive) return Math.min(this.opts.successTtl, minTtl([...r.answers, ...r.authorities]) ?? 0);
    if (r.rcode !== RCODE.NOERROR && r.rcode !== RCODE.NXDOMAIN) return 0;
    const soa = r.authorities.find((a) => a.type === 'SOA');
    if (!soa) return 0;
    const min = (soa.data as { minimum?: number }).minimum ?? 0;
    return Math.min(this.opts.denialTtl, soa.ttl ?? 0, min);
  }

  private aged(e: Entry, now: number, floor: number, stale = false): DnsReply {
    const elapsed = Math.floor(now - e.stored);
    const f = stale ? 30 : floor;
    return {
      ...e.reply,
      answers: withTtlLeft(e.reply.answers, stale ? 1e9 : elapsed, f),
      authorities: withTtlLeft(e.reply.authorities, stale ? 1e9 : elapsed, f),
      additionals: withTtlLeft(e.reply.additionals, stale ? 1e9 : elapsed, f),
    };
  }
}
