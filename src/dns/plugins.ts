// The small plugins of the Corefile subset: hosts, rewrite, loadbalance, log, errors, and the
// metrics plugin (prometheus) that times every request with CoreDNS's metric names.
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Answer } from './message.js';
import { canonical, RCODE, reply, type DnsReply } from './message.js';
import type { DnsRequest, Next, Plugin } from './plugin.js';
import { inZone } from './plugin.js';
import { canonicalIP } from './view.js';

/** hosts: names from a hosts-file text (inline lines or a file's content), authoritative for them. */
export class HostsPlugin implements Plugin {
  readonly name = 'hosts';
  private readonly names = new Map<string, string[]>();
  private readonly reverse = new Map<string, string[]>();

  constructor(
    text: string,
    readonly opts: { zones: string[]; ttl: number; fallthrough: boolean } = {
      zones: [''],
      ttl: 3600,
      fallthrough: true,
    },
  ) {
    for (const raw of text.split('\n')) {
      const [ip, ...hosts] = raw.replace(/#.*$/, '').trim().split(/\s+/);
      const addr = canonicalIP(ip);
      if (!addr) continue;
      for (const h of hosts) {
        const n = canonical(h);
        this.names.set(n, [...(this.names.get(n) ?? []), addr]);
        this.reverse.set(addr, [...(this.reverse.get(addr) ?? []), n]);
      }
    }
  }

  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const { qname, question } = req.query;
    if (!this.opts.zones.some((z) => inZone(qname, z))) return next(req);
    const ips = this.names.get(qname);
    if (!ips) {
      if (question.type === 'PTR') {
        const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\.in-addr\.arpa$/.exec(qname);
        const names = m ? this.reverse.get(`${m[4]}.${m[3]}.${m[2]}.${m[1]}`) : undefined;
        if (names)
          return reply(
            RCODE.NOERROR,
            names.map((n) => ({ type: 'PTR', name: question.name, ttl: this.opts.ttl, class: 'IN', data: n })),
          );
      }
      return this.opts.fallthrough ? next(req) : reply(RCODE.NXDOMAIN);
    }
    const type = question.type;
    const answers: Answer[] = ips
      .filter((ip) => (type === 'AAAA') === ip.includes(':') && (type === 'A' || type === 'AAAA'))
      .map((ip) => ({
        type: ip.includes(':') ? 'AAAA' : 'A',
        name: question.name,
        ttl: this.opts.ttl,
        class: 'IN',
        data: ip,
      }));
    return reply(RCODE.NOERROR, answers);
  }
}

export interface RewriteRule {
  /** exact | suffix | prefix | substring | regex (CoreDNS's `rewrite name` forms). */
  kind: 'exact' | 'suffix' | 'prefix' | 'substring' | 'regex';
  from: string;
  to: string;
}

/** The name a rule makes of `name`, or undefined when it does not apply. */
export function applyRewrite(rule: RewriteRule, name: string): string | undefined {
  const from = rule.kind === 'regex' ? rule.from : canonical(rule.from);
  const to = rule.kind === 'regex' ? rule.to : canonical(rule.to);
  switch (rule.kind) {
    case 'exact':
      return name === from ? to : undefined;
    case 'suffix':
      return name.endsWith(from) ? name.slice(0, -from.length) + to : undefined;
    case 'prefix':
      return name.startsWith(from) ? to + name.slice(from.length) : undefined;
    case 'substring':
      return name.includes(from) ? name.replace(from, to) : undefined;
    case 'regex': {
      const re = new RegExp(from);
      return re.test(name) ? canonical(name.replace(re, to)) : undefined;
    }
  }
}

/** rewrite name: the rest of the chain sees the new name; the reply is renamed back (`answer auto`). */
export class RewritePlugin implements Plugin {
  readonly name = 'rewrite';
  constructor(readonly rules: RewriteRule[]) {}

  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const q = req.query;
    for (const rule of this.rules) {
      const to = applyRewrite(rule, q.qname);
      if (to === undefined) continue;
      const r = await next({ ...req, query: { ...q, qname: to, question: { ...q.question, name: to } } });
      const back = (a: Answer): Answer => (canonical(a.name) === to ? { ...a, name: q.question.name } : a);
      return { ...r, answers: r.answers.map(back), authorities: r.authorities, additionals: r.additionals };
    }
    return next(req);
  }
}

/** loadbalance: shuffles A/AAAA records (round robin for clients taking the first). */
export class LoadBalancePlugin implements Plugin {
  readonly name = 'loadbalance';
  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const r = await next(req);
    if (req.notes) req.notes.shuffle = true;
    if (r.answers.length < 2) return r;
    const addr = r.answers.filter((a) => a.type === 'A' || a.type === 'AAAA');
    for (let i = addr.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [addr[i], addr[j]] = [addr[j], addr[i]];
    }
    return { ...r, answers: [...r.answers.filter((a) => a.type !== 'A' && a.type !== 'AAAA'), ...addr] };
  }
}

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
export const rcodeName = (n: number) => RCODE_NAMES[n] ?? String(n);

/** log: one line per query (client, name, type, rcode, duration), as CoreDNS's common format. */
export class LogPlugin implements Plugin {
  readonly name = 'log';
  constructor(private readonly logger: Logger) {}
  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const t0 = performance.now();
    const r = await next(req);
    const line = (ms: number) =>
      this.logger.info(
        {
          client: req.remoteAddress,
          name: req.query.question.name,
          type: req.query.question.type,
          proto: req.transport,
          rcode: rcodeName(r.rcode),
          ms,
        },
        'dns query',
      );
    line(+(performance.now() - t0).toFixed(3));
    // Answered again from the wire cache: logged again (the cache is per client when logging).
    req.notes?.hooks.push(() => line(0));
    return r;
  }
}

/** errors: logs the requests that ended in SERVFAIL (a plugin failed or no upstream answered). */
export class ErrorsPlugin implements Plugin {
  readonly name = 'errors';
  constructor(private readonly logger: Logger) {}
  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const r = await next(req);
    if (r.rcode === RCODE.SERVFAIL)
      this.logger.warn({ name: req.query.question.name, type: req.query.question.type }, 'dns: SERVFAIL');
    return r;
  }
}

/** CoreDNS's metrics, registered once per registry. */
export class DnsMetrics {
  readonly requests: Counter<'server' | 'zone' | 'proto' | 'family' | 'type'>;
  readonly responses: Counter<'server' | 'zone' | 'rcode'>;
  readonly duration: Histogram<'server' | 'zone' | 'type'>;
  readonly cacheHits: Counter<'server' | 'type' | 'zones'>;
  readonly cacheMisses: Counter<'server' | 'zones'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'coredns_dns_requests_total',
      help: 'Counter of DNS requests made per zone, protocol and family.',
      labelNames: ['server', 'zone', 'proto', 'family', 'type'],
      registers,
    });
    this.responses = new Counter({
      name: 'coredns_dns_responses_total',
      help: 'Counter of response status codes.',
      labelNames: ['server', 'zone', 'rcode'],
      registers,
    });
    this.duration = new Histogram({
      name: 'coredns_dns_request_duration_seconds',
      help: 'Histogram of the time (in seconds) each request took per zone.',
      labelNames: ['server', 'zone', 'type'],
      buckets: [
        0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096,
        8.192,
      ],
      registers,
    });
    this.cacheHits = new Counter({
      name: 'coredns_cache_hits_total',
      help: 'The count of cache hits.',
      labelNames: ['server', 'type', 'zones'],
      registers,
    });
    this.cacheMisses = new Counter({
      name: 'coredns_cache_misses_total',
      help: 'The count of cache misses.',
      labelNames: ['server', 'zones'],
      registers,
    });
  }
}

/** prometheus: counts and times every request with CoreDNS's names. */
export class MetricsPlugin implements Plugin {
  readonly name = 'prometheus';
  // prom-client hashes a label object on every call; the bound children are looked up once.
  private readonly requestChildren = new Map<string, { inc(): void }>();
  private readonly responseChildren = new Map<number, { inc(): void }>();
  private readonly durationChildren = new Map<string, { observe(v: number): void }>();

  constructor(
    private readonly metrics: DnsMetrics,
    private readonly server: string,
    private readonly zone: string,
  ) {}

  async serve(req: DnsRequest, next: Next): Promise<DnsReply> {
    const t0 = performance.now();
    const r = await next(req);
    const type = req.query.question.type;
    const family = req.remoteAddress.includes(':') ? '2' : '1';
    const rk = `${req.transport}|${family}|${type}`;
    let rc = this.requestChildren.get(rk);
    if (!rc)
      this.requestChildren.set(
        rk,
        (rc = this.metrics.requests.labels({
          server: this.server,
          zone: this.zone,
          proto: req.transport,
          family,
          type,
        })),
      );
    let sc = this.responseChildren.get(r.rcode);
    if (!sc)
      this.responseChildren.set(
        r.rcode,
        (sc = this.metrics.responses.labels({ server: this.server, zone: this.zone, rcode: rcodeName(r.rcode) })),
      );
    let dc = this.durationChildren.get(type);
    if (!dc)
      this.durationChildren.set(
        type,
        (dc = this.metrics.duration.labels({ server: this.server, zone: this.zone, type })),
      );
    const observe = (seconds: number) => {
      rc.inc();
      sc.inc();
      dc.observe(seconds);
    };
    observe((performance.now() - t0) / 1000);
    // A reply served again from the wire cache is counted like this one (its time: next to none).
    req.notes?.hooks.push(() => observe(0));
    return r;
  }
}

export { reply };
