// Corefile server blocks → plugin chains. Plugins run in CoreDNS's fixed order whatever order
// the Corefile lists them in (prometheus, errors, log, autopath, rewrite, loadbalance, hosts,
// kubernetes, cache, forward), with one deliberate difference: the cache sits after kubernetes,
// so cluster names are always answered from the informers (a new Service resolves at once,
// never hidden by a cached NXDOMAIN) and only forwarded names are cached.
// A query goes to the block with the longest zone that contains it (stub domains are blocks).
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { AutopathPlugin } from './autopath.js';
import { CachePlugin } from './cache.js';
import type { ServerBlock } from './corefile.js';
import { ForwardPlugin, parseUpstream, type Upstream } from './forward.js';
import { DEFAULT_KUBERNETES_OPTIONS, KubernetesPlugin } from './kubernetes.js';
import { RCODE, reply } from './message.js';
import { chain, inZone, type Next, type Plugin } from './plugin.js';
import { WireCache } from './wirecache.js';
import {
  DnsMetrics,
  ErrorsPlugin,
  HostsPlugin,
  LoadBalancePlugin,
  LogPlugin,
  MetricsPlugin,
  RewritePlugin,
} from './plugins.js';
import type { ClusterView } from './view.js';

export interface BuildDeps {
  view: ClusterView;
  logger: Logger;
  metrics?: DnsMetrics;
  /** The upstreams `forward . /etc/resolv.conf` means (the host's). */
  resolvConf: string;
  /** Our own listener addresses: an upstream pointing back at us would loop. */
  ownAddresses: string[];
  hostSearch: string[];
  readFile?: (path: string) => string;
}

export interface BuiltConfig {
  handler: Next;
  kubernetes?: KubernetesPlugin;
  transferTo: string[];
  /** Whether a block needs every pod (pods verified, autopath). */
  needsPods: boolean;
  /** Whether replies (or what is logged of them) depend on who asks: autopath, log. */
  perClient: boolean;
  problems: string[];
  close(): void;
}

function upstreamsOf(to: string[], deps: BuildDeps, problems: string[]): Upstream[] {
  const out: Upstream[] = [];
  for (const t of to) {
    if (t.startsWith('/')) {
      const text = t === '/etc/resolv.conf' ? deps.resolvConf : (deps.readFile ?? ((p) => readFileSync(p, 'utf8')))(t);
      // parseResolvConf drops loopback resolvers for pods; the agent itself can use them.
      const servers = text
        .split('\n')
        .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
        .filter((s): s is string => !!s);
      for (const s of servers) out.push({ host: s, port: 53 });
      continue;
    }
    const u = parseUpstream(t);
    if (u) out.push(u);
    else problems.push(`forward: not an address: ${t}`);
  }
  const mine = out.filter((u) => deps.ownAddresses.includes(u.host));
  if (mine.length)
    problems.push(`forward: skipping ${mine.map((u) => u.host).join(', ')} (this DNS server itself: a loop)`);
  return out.filter((u) => !deps.ownAddresses.includes(u.host));
}

export function buildConfig(blocks: ServerBlock[], deps: BuildDeps): BuiltConfig {
  const problems: string[] = [];
  const closers: (() => void)[] = [];
  let kubernetes: KubernetesPlugin | undefined;
  let transferTo: string[] = [];
  let needsPods = false;
  const routes: { zone: string; next: Next }[] = [];
  for (const b of blocks) {
    const plugins: Plugin[] = [];
    const zone = b.zones[0] ?? '';
    if (b.prometheus && deps.metrics)
      plugins.push(new MetricsPlugin(deps.metrics, `dns://:${b.port}`, zone === '' ? '.' : `${zone}.`));
    if (b.errors) plugins.push(new ErrorsPlugin(deps.logger));
    if (b.log) plugins.push(new LogPlugin(deps.logger));
    let k: KubernetesPlugin | undefined;
    if (b.kubernetes) {
      const kz = b.kubernetes.zones.find((z) => !z.endsWith('arpa')) ?? DEFAULT_KUBERNETES_OPTIONS.zone;
      k = new KubernetesPlugin(deps.view, {
        ...DEFAULT_KUBERNETES_OPTIONS,
        zone: kz,
        ttl: b.kubernetes.ttl,
        pods: b.kubernetes.pods,
        endpointPodNames: b.kubernetes.endpointPodNames,
        fallthrough: b.kubernetes.fallthrough ?? [],
      });
      kubernetes ??= k;
      if (b.kubernetes.pods === 'verified') needsPods = true;
    }
    if (b.autopath) {
      if (!k) problems.push(`line ${b.line}: autopath @kubernetes needs the kubernetes plugin in the same block`);
      else {
        needsPods = true;
        plugins.push(new AutopathPlugin(k.opts.zone, (ip) => deps.view.pods?.byIndex('podIP', ip)[0], deps.hostSearch));
      }
    }
    if (b.rewrite.length) plugins.push(new RewritePlugin(b.rewrite));
    if (b.loadbalance) plugins.push(new LoadBalancePlugin());
    if (b.hosts) {
      let text = b.hosts.inline.join('\n');
      if (b.hosts.file) {
        try {
          text += '\n' + (deps.readFile ?? ((p) => readFileSync(p, 'utf8')))(b.hosts.file);
        } catch (err) {
          problems.push(`line ${b.line}: hosts: cannot read ${b.hosts.file}: ${(err as Error).message}`);
        }
      }
      plugins.push(new HostsPlugin(text, { zones: b.hosts.zones, ttl: b.hosts.ttl, fallthrough: b.hosts.fallthrough }));
    }
    if (k) plugins.push(k);
    if (b.cache) {
      const m = deps.metrics;
      const server = `dns://:${b.port}`;
      const zonesLabel = b.cache.zones.map((z) => (z === '' ? '.' : `${z}.`)).join(' ');
      const stats = m
        ? {
            hit: (type: 'success' | 'denial') => m.cacheHits.inc({ server, type, zones: zonesLabel }),
            miss: () => m.cacheMisses.inc({ server, zones: zonesLabel }),
          }
        : undefined;
      plugins.push(
        new CachePlugin(
          {
            zones: b.cache.zones,
            capacity: b.cache.successCapacity,
            successTtl: b.cache.successTtl,
            denialTtl: b.cache.denialTtl,
            serveStaleSeconds: b.cache.serveStaleSeconds,
          },
          stats,
        ),
      );
    }
    if (b.forward) {
      const f = new ForwardPlugin({
        from: b.forward.from,
        to: upstreamsOf(b.forward.to, deps, problems),
        except: b.forward.except,
      });
      closers.push(() => f.close());
      plugins.push(f);
    }
    if (b.transfer && k && b.transfer.zones.some((z) => z === k.opts.zone || z === '')) transferTo = b.transfer.to;
    const next = chain(plugins);
    for (const z of b.zones) routes.push({ zone: z, next });
  }
  // Longest zone first: the most specific block gets the query.
  routes.sort((a, b) => b.zone.length - a.zone.length);
  const handler: Next = (req) => {
    const r = routes.find((r) => inZone(req.query.qname, r.zone));
    return r ? r.next(req) : Promise.resolve(reply(RCODE.REFUSED, [], [], [], false));
  };
  const perClient = blocks.some((b) => b.autopath || b.log);
  return { handler, kubernetes, transferTo, needsPods, perClient, problems, close: () => closers.forEach((c) => c()) };
}

/** Distinct questions whose reply bytes are kept (about 200 bytes each). */
const WIRE_CACHE_ENTRIES = 10_000;

/** The wire cache for a built chain; `generation` counts changes of the data it reads. */
export function wireCacheFor(built: BuiltConfig, generation: () => number): WireCache {
  return new WireCache({ capacity: WIRE_CACHE_ENTRIES, generation, perClient: built.perClient });
}
