// Replies kept as the bytes that went out, keyed by the bytes that came in (all but the query
// ID): a repeated question skips decoding, the plugin chain and encoding, which are nearly all
// of a query's cost. An entry is good while the data it was computed from is unchanged (the
// cluster view's generation, checked on every hit) and for at most its answers' TTL, capped at
// one second for answers from elsewhere (forwarded), so the TTLs it carries are never more than
// a second out. Plugins that must act on every query (metrics, log, loadbalance) say so on the
// request while the reply is computed: their hooks run again on every hit.
import type { DnsReply } from './message.js';
import { minTtl, RCODE } from './message.js';

/** What the plugin chain says about a reply while computing it (shared by nested lookups). */
export interface ReplyNotes {
  /** Run again for each reply served from the cache (counters, logs). */
  hooks: (() => void)[];
  /** Address records are shuffled on every reply (loadbalance). */
  shuffle: boolean;
  /** The reply must not be reused (it depends on something the key doesn't hold). */
  uncacheable: boolean;
}

export const newNotes = (): ReplyNotes => ({ hooks: [], shuffle: false, uncacheable: false });

export interface WireCacheOptions {
  capacity: number;
  /** The data the chain reads: an entry from an older generation is stale. */
  generation: () => number;
  /** Key on the client's address too (autopath answers depend on who asks). */
  perClient: boolean;
  now?: () => number;
}

interface Entry {
  bytes: Buffer;
  generation: number;
  expiresMs: number;
  hooks: (() => void)[];
  shuffle: boolean;
}

/** Longest any entry lives (authoritative answers change only with the generation anyway). */
const MAX_AUTHORITATIVE_MS = 30_000;
/** Forwarded answers: their TTLs count down, and the bytes hold one value. */
const MAX_FORWARDED_MS = 1_000;
/** How many of the oldest entries a full cache looks at for stale ones before giving up. */
const STALE_SCAN = 16;
/** NXDOMAIN and NODATA from our zones without a TTL to go by. */
const NEGATIVE_MS = 5_000;

export class WireCache {
  private readonly entries = new Map<string, Entry>();
  private readonly now: () => number;

  constructor(private readonly o: WireCacheOptions) {
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  private key(query: Buffer, transport: 'udp' | 'tcp', remote: string): string {
    const who = this.o.perClient ? remote : '';
    return `${transport}|${who}|${query.toString('latin1', 2)}`;
  }

  /** The cached reply to this query, with the query's ID, or undefined. */
  get(query: Buffer, transport: 'udp' | 'tcp', remote: string): Buffer | undefined {
    if (query.length < 12) return undefined;
    const k = this.key(query, transport, remote);
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.generation !== this.o.generation() || e.expiresMs <= this.now()) {
      this.entries.delete(k);
      return undefined;
    }
    for (const h of e.hooks) h();
    const out = e.shuffle ? shuffledAddresses(e.bytes) : Buffer.from(e.bytes);
    out.writeUInt16BE(query.readUInt16BE(0), 0);
    return out;
  }

  /** Keeps a reply computed for this query, when it may be reused. */
  put(
    query: Buffer,
    transport: 'udp' | 'tcp',
    remote: string,
    reply: DnsReply,
    bytes: Buffer,
    notes: ReplyNotes,
  ): void {
    if (notes.uncacheable || query.length < 12) return;
    if (reply.rcode !== RCODE.NOERROR && reply.rcode !== RCODE.NXDOMAIN) return;
    const ttlMs = lifetimeMs(reply);
    if (ttlMs <= 0) return;
    const k = this.key(query, transport, remote);
    this.entries.delete(k);
    if (this.entries.size >= this.o.capacity && !this.evictStale()) return;
    this.entries.set(k, {
      bytes,
      generation: this.o.generation(),
      expiresMs: this.now() + ttlMs,
      hooks: notes.hooks,
      shuffle: notes.shuffle,
    });
  }

  /**
   * Makes room when full by dropping stale entries among the oldest (another generation, or past
   * their lifetime), never live ones: a full cache keeps what it has and the new reply is not
   * kept. Evicting the oldest live entry instead made a client cycling through more names than
   * the capacity (dnsperf over 10,000 Services, a crawler) evict each name just before asking it
   * again, so nothing was ever a hit. Entries live at most MAX_AUTHORITATIVE_MS, so a full cache
   * turns over within that time anyway.
   */
  private evictStale(): boolean {
    const generation = this.o.generation();
    const now = this.now();
    let looked = 0;
    let freed = false;
    for (const [k, e] of this.entries) {
      if (looked++ >= STALE_SCAN) break;
      if (e.generation !== generation || e.expiresMs <= now) {
        this.entries.delete(k);
        freed = true;
      }
    }
    return freed;
  }

  clear(): void {
    this.entries.clear();
  }
}

function lifetimeMs(r: DnsReply): number {
  const ttl = minTtl([...r.answers, ...r.authorities]);
  const cap = r.authoritative ? MAX_AUTHORITATIVE_MS : MAX_FORWARDED_MS;
  if (ttl === undefined) return r.authoritative ? NEGATIVE_MS : 0;
  return Math.min(cap, ttl * 1000);
}

const TYPE_A = 1;
const TYPE_AAAA = 28;

/** Index just past the (possibly compressed) name at `off`. */
function skipName(buf: Buffer, off: number): number {
  while (off < buf.length) {
    const len = buf[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2;
    off += len + 1;
  }
  return off;
}

/**
 * A copy of an encoded reply with the address records at the end of its answer section in a
 * random order (what loadbalance does to each reply: other records first, addresses after).
 * Records are moved as whole byte ranges; a reply laid out otherwise is copied unchanged.
 */
export function shuffledAddresses(buf: Buffer): Buffer {
  const out = Buffer.from(buf);
  const qd = buf.readUInt16BE(4);
  const an = buf.readUInt16BE(6);
  let off = 12;
  for (let i = 0; i < qd; i++) off = skipName(buf, off) + 4;
  const spans: [number, number][] = [];
  for (let i = 0; i < an && off + 10 <= buf.length; i++) {
    const start = off;
    const at = skipName(buf, off);
    const type = buf.readUInt16BE(at);
    off = at + 10 + buf.readUInt16BE(at + 8);
    if (type === TYPE_A || type === TYPE_AAAA) spans.push([start, off]);
    else if (spans.length) return out; // an address before another record: not loadbalance's layout
  }
  if (spans.length < 2) return out;
  for (let i = spans.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [spans[i], spans[j]] = [spans[j], spans[i]];
  }
  let w = Math.min(...spans.map((s) => s[0]));
  for (const [s, e] of spans) w += buf.copy(out, w, s, e);
  return out;
}
