// A Corefile subset (CoreDNS's configuration language): server blocks `ZONES[:PORT] { ... }`
// with the directives errors, health, ready, kubernetes, forward, cache, hosts, rewrite, log,
// prometheus, loadbalance, autopath, transfer (reload and loop are accepted and need nothing
// here). A line that cannot be understood is reported with its number and left out; the rest
// of the file still applies.
import { canonical } from './message.js';
import type { PodsMode } from './kubernetes.js';
import type { RewriteRule } from './plugins.js';

export interface KubernetesDirective {
  zones: string[];
  pods: PodsMode;
  ttl: number;
  endpointPodNames: boolean;
  fallthrough?: string[];
}

export interface ServerBlock {
  zones: string[];
  port: number;
  line: number;
  errors: boolean;
  log: boolean;
  health?: string;
  ready?: string;
  prometheus?: string;
  loadbalance: boolean;
  kubernetes?: KubernetesDirective;
  forward?: { from: string; to: string[]; except: string[] };
  cache?: {
    ttl: number;
    zones: string[];
    successCapacity: number;
    successTtl: number;
    denialTtl: number;
    serveStaleSeconds: number;
  };
  hosts?: { file?: string; inline: string[]; zones: string[]; ttl: number; fallthrough: boolean };
  rewrite: RewriteRule[];
  autopath: boolean;
  transfer?: { zones: string[]; to: string[] };
}

export interface CorefileProblem {
  line: number;
  message: string;
}

interface Token {
  text: string;
  line: number;
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const re = /"((?:[^"\\]|\\.)*)"|([{}])|([^\s{}"#]+)|(#.*$)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(raw))) {
      if (m[4] !== undefined) break;
      out.push({ text: m[1] !== undefined ? m[1] : (m[2] ?? m[3]), line: i + 1 });
    }
  });
  return out;
}

/** A directive: its name, arguments on the same line, and its `{ ... }` block lines. */
interface Directive {
  name: string;
  args: string[];
  line: number;
  block: { args: string[]; line: number }[];
}

function durationSeconds(s: string): number | undefined {
  const m = /^(\d+)(s|m|h)?$/.exec(s);
  if (!m) return undefined;
  return +m[1] * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

function zoneOf(s: string): string {
  // "." is the root zone, which canonical() spells ''.
  return canonical(s.replace(/^dns:\/\//, '').replace(/:\d+$/, ''));
}

const DEFAULT_ZONES = (zones: string[], blockZones: string[]) => (zones.length ? zones.map(zoneOf) : blockZones);

export function parseCorefile(text: string): { blocks: ServerBlock[]; problems: CorefileProblem[] } {
  const tokens = tokenize(text);
  const problems: CorefileProblem[] = [];
  const blocks: ServerBlock[] = [];
  let i = 0;
  while (i < tokens.length) {
    const start = tokens[i].line;
    const keys: string[] = [];
    while (i < tokens.length && tokens[i].text !== '{') {
      if (tokens[i].text === '}') problems.push({ line: tokens[i].line, message: 'unexpected "}"' });
      else keys.push(tokens[i].text);
      i++;
    }
    if (i >= tokens.length) {
      problems.push({ line: start, message: 'server block without "{"' });
      break;
    }
    i++; // {
    // Directives: tokens grouped by line, nested blocks collected for the directive before them.
    const directives: Directive[] = [];
    let depth = 1;
    let current: Directive | undefined;
    let nestedLine: { args: string[]; line: number } | undefined;
    let inNested = false;
    while (i < tokens.length && depth > 0) {
      const t = tokens[i++];
      if (t.text === '{') {
        if (inNested || !current) problems.push({ line: t.line, message: 'unexpected "{"' });
        inNested = true;
        depth++;
        continue;
      }
      if (t.text === '}') {
        depth--;
        if (inNested && depth === 1) inNested = false;
        nestedLine = undefined;
        continue;
      }
      if (inNested) {
        if (!nestedLine || nestedLine.line !== t.line) current!.block.push((nestedLine = { args: [], line: t.line }));
        nestedLine.args.push(t.text);
      } else if (!current || current.line !== t.line) {
        directives.push((current = { name: t.text, args: [], line: t.line, block: [] }));
      } else current.args.push(t.text);
    }
    if (depth > 0) problems.push({ line: start, message: 'server block not closed with "}"' });
    const zones = keys.length ? keys.map(zoneOf) : [''];
    const portMatch = keys.map((k) => /:(\d+)$/.exec(k)?.[1]).find(Boolean);
    const block: ServerBlock = {
      zones,
      port: portMatch ? +portMatch : 53,
      line: start,
      errors: false,
      log: false,
      loadbalance: false,
      rewrite: [],
      autopath: false,
    };
    for (const d of directives) {
      const err = applyDirective(block, d);
      if (err) problems.push({ line: d.line, message: `${d.name}: ${err}` });
    }
    blocks.push(block);
  }
  return { blocks, problems };
}

/** Fills one directive into the block; returns what was wrong with it. */
function applyDirective(b: ServerBlock, d: Directive): string | undefined {
  const a = d.args;
  switch (d.name) {
    case 'errors':
      b.errors = true;
      return undefined;
    case 'log':
      b.log = true;
      return undefined;
    case 'health':
      b.health = a[0] ?? ':8080';
      return undefined;
    case 'ready':
      b.ready = a[0] ?? ':8181';
      return undefined;
    case 'prometheus':
      b.prometheus = a[0] ?? ':9153';
      return undefined;
    case 'reload':
    case 'loop':
      return undefined;
    case 'loadbalance':
      if (a.length && a[0] !== 'round_robin') return `unknown policy ${a[0]}`;
      b.loadbalance = true;
      return undefined;
    case 'autopath':
      if (a[0] !== '@kubernetes') return 'only "autopath @kubernetes" is supported';
      b.autopath = true;
      return undefined;
    case 'kubernetes': {
      const k: KubernetesDirective = {
        zones: DEFAULT_ZONES(a, b.zones),
        pods: 'disabled',
        ttl: 5,
        endpointPodNames: false,
      };
      for (const l of d.block) {
        const [key, ...rest] = l.args;
        if (key === 'pods' && ['disabled', 'insecure', 'verified'].includes(rest[0])) k.pods = rest[0] as PodsMode;
        else if (key === 'ttl' && /^\d+$/.test(rest[0] ?? '') && +rest[0] <= 3600) k.ttl = +rest[0];
        else if (key === 'endpoint_pod_names') k.endpointPodNames = true;
        else if (key === 'fallthrough') k.fallthrough = rest.length ? rest.map(zoneOf) : [''];
        else return `line ${l.line}: unsupported option "${l.args.join(' ')}"`;
      }
      b.kubernetes = k;
      return undefined;
    }
    case 'forward': {
      if (a.length < 2) return 'want "forward FROM TO..."';
      const f = { from: zoneOf(a[0]), to: a.slice(1), except: [] as string[] };
      for (const l of d.block) {
        const [key, ...rest] = l.args;
        if (key === 'except') f.except.push(...rest.map(zoneOf));
        else if (
          ['policy', 'max_concurrent', 'health_check', 'max_fails', 'expire', 'prefer_udp', 'force_tcp'].includes(key)
        )
          continue;
        else return `line ${l.line}: unsupported option "${l.args.join(' ')}"`;
      }
      b.forward = f;
      return undefined;
    }
    case 'cache': {
      const ttl = a[0] !== undefined && /^\d+$/.test(a[0]) ? +a[0] : undefined;
      const c = {
        ttl: ttl ?? 3600,
        zones: DEFAULT_ZONES(ttl !== undefined ? a.slice(1) : a, b.zones),
        successCapacity: 9984,
        successTtl: ttl ?? 3600,
        denialTtl: Math.min(ttl ?? 1800, 1800),
        serveStaleSeconds: 0,
      };
      for (const l of d.block) {
        const [key, ...rest] = l.args;
        if ((key === 'success' || key === 'denial') && /^\d+$/.test(rest[0] ?? '')) {
          if (key === 'success') c.successCapacity = +rest[0];
          if (rest[1] !== undefined) {
            const t = durationSeconds(rest[1]);
            if (t === undefined) return `line ${l.line}: bad TTL ${rest[1]}`;
            if (key === 'success') c.successTtl = t;
            else c.denialTtl = t;
          }
        } else if (key === 'serve_stale') {
          const t = rest[0] ? durationSeconds(rest[0]) : 3600;
          if (t === undefined) return `line ${l.line}: bad duration ${rest[0]}`;
          c.serveStaleSeconds = t;
        } else if (key === 'prefetch') continue;
        else return `line ${l.line}: unsupported option "${l.args.join(' ')}"`;
      }
      b.cache = c;
      return undefined;
    }
    case 'hosts': {
      const file = a[0] && a[0].startsWith('/') ? a[0] : undefined;
      const h = {
        file,
        inline: [] as string[],
        zones: DEFAULT_ZONES(file ? a.slice(1) : a, b.zones),
        ttl: 3600,
        fallthrough: false,
      };
      for (const l of d.block) {
        const [key, ...rest] = l.args;
        if (key === 'fallthrough') h.fallthrough = true;
        else if (key === 'ttl' && /^\d+$/.test(rest[0] ?? '')) h.ttl = +rest[0];
        else if (key === 'reload' || key === 'no_reverse') continue;
        else if (/^[\d.:a-fA-F]+$/.test(key) && rest.length) h.inline.push(l.args.join(' '));
        else return `line ${l.line}: unsupported option "${l.args.join(' ')}"`;
      }
      b.hosts = h;
      return undefined;
    }
    case 'rewrite': {
      const args = a[0] === 'stop' || a[0] === 'continue' ? a.slice(1) : a;
      if (args[0] !== 'name') return 'only "rewrite name ..." is supported';
      const kinds = ['exact', 'suffix', 'prefix', 'substring', 'regex'];
      const kind = kinds.includes(args[1]) ? args[1] : 'exact';
      const rest = kinds.includes(args[1]) ? args.slice(2) : args.slice(1);
      if (rest.length < 2) return 'want "rewrite name [exact|suffix|prefix|substring|regex] FROM TO"';
      if (kind === 'regex') {
        try {
          new RegExp(rest[0]);
        } catch {
          return `bad regular expression ${rest[0]}`;
        }
      }
      const to = kind === 'regex' ? rest[1].replace(/\{(\d+)\}/g, '$$$1') : rest[1];
      b.rewrite.push({ kind: kind as RewriteRule['kind'], from: rest[0], to });
      return undefined;
    }
    case 'transfer': {
      const t = { zones: DEFAULT_ZONES(a, b.zones), to: [] as string[] };
      for (const l of d.block) {
        const [key, ...rest] = l.args;
        if (key === 'to' && rest.length) t.to.push(...rest);
        else return `line ${l.line}: unsupported option "${l.args.join(' ')}"`;
      }
      b.transfer = t;
      return undefined;
    }
    default:
      return `unknown or unsupported plugin "${d.name}"`;
  }
}

/** The Corefile k8ts writes into kube-system/coredns when there is none (k3s's, with a cache only for forwarded names). */
export function defaultCorefile(clusterDomain: string): string {
  return `.:53 {
    errors
    health
    ready
    kubernetes ${clusterDomain} in-addr.arpa ip6.arpa {
      pods insecure
      fallthrough in-addr.arpa ip6.arpa
      ttl 5
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
    transfer ${clusterDomain} {
      to 127.0.0.1
    }
}
`;
}
