// NetworkPolicy rule programming (npm run bench:netpol; root, with nft): the node's rules computed
// from policies, pods and namespaces (src/netpol/model.ts), rendered (render.ts) and loaded into
// the kernel with `nft -f`, the path the controller takes on every change (the watch delivering
// the change is not included; the e2e test/e2e/netpol.test.ts measures create → programmed with a
// real cluster). Two shapes: NETPOL_PODS pods × NETPOL_POLICIES policies (default 1,000 × 100, all
// pods on this node: the worst case for one node) and issue 12's 200 pods × 1,000 policies. Each:
// programmed from scratch, then NETPOL_CHANGES changes (one policy's port changed), each loaded as
// the difference from what the kernel holds, as the controller does. Addresses are
// from 198.18.0.0/15 (benchmarking range), in a table of its own, removed at the end.
import type { NetworkPolicy } from 'kubernetes-types/networking/v1.js';
import { pct, pick } from './common.js';
import { compileNodeRules, type Endpoint } from '../src/netpol/model.js';
import { deleteTableScript, fullScript, renderRules, updateScript, type RenderedTable } from '../src/netpol/render.js';
import { nft } from '../src/proxy/nftbackend.js';

const CHANGES = pick('NETPOL_CHANGES', 20, 10);
const TABLE = 'k8tsbench-netpol';
const ip = (n: number) => `198.${18 + ((n >> 16) & 1)}.${(n >> 8) & 255}.${n & 255}`;

function pods(count: number): Endpoint[] {
  return Array.from({ length: count }, (_, n) => ({
    namespace: `ns-${n % 10}`,
    name: `pod-${n}`,
    ip: ip(n + 10),
    labels: { app: `app-${n % 20}`, role: `r-${n % 5}` },
    local: true,
    ports: [{ name: 'http', protocol: 'tcp' as const, port: 8080 }],
  }));
}

function policy(i: number, port = 8080): NetworkPolicy {
  return {
    metadata: { namespace: `ns-${i % 10}`, name: `policy-${i}` },
    spec: {
      podSelector: { matchLabels: { app: `app-${i % 20}` } },
      ingress: [
        {
          from: [
            { podSelector: { matchLabels: { role: `r-${i % 5}` } } },
            {
              namespaceSelector: { matchLabels: { team: `t-${i % 3}` } },
              podSelector: { matchLabels: { role: 'r-0' } },
            },
          ],
          ports: [{ port }, { port: 'http' }, { port: 9000, endPort: 9100, protocol: 'UDP' }],
        },
      ],
      ...(i % 2
        ? {
            egress: [
              {
                to: [{ ipBlock: { cidr: '198.18.0.0/15', except: [`${ip(i)}/32`] } }],
                ports: [{ protocol: 'UDP' as const, port: 53 }],
              },
            ],
          }
        : {}),
    },
  };
}

const namespaces = new Map(Array.from({ length: 10 }, (_, i) => [`ns-${i}`, { team: `t-${i % 3}` }]));

let installed: RenderedTable | undefined;

/** What the controller does on a change: compute, render, load the difference (everything the first time). */
async function program(policies: NetworkPolicy[], endpoints: Endpoint[]) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const rules = compileNodeRules(policies, endpoints, namespaces);
  const t1 = performance.now();
  const rendered = renderRules(rules);
  const script = installed ? updateScript(TABLE, installed, rendered) : fullScript(TABLE, rendered);
  const t2 = performance.now();
  const cpu = process.cpuUsage(cpu0);
  await nft(script);
  installed = rendered;
  const t3 = performance.now();
  return {
    compute: t1 - t0,
    render: t2 - t1,
    cpu: (cpu.user + cpu.system) / 1000,
    load: t3 - t2,
    total: t3 - t0,
    lines: script.split('\n').length,
  };
}

const f = (n: number) => n.toFixed(1);

async function scenario(podCount: number, policyCount: number): Promise<void> {
  installed = undefined;
  const endpoints = pods(podCount);
  const policies = Array.from({ length: policyCount }, (_, i) => policy(i));
  const first = await program(policies, endpoints);
  console.log(
    `${podCount} pods × ${policyCount} policies, from scratch: compute ${f(first.compute)} ms, render ${f(first.render)} ms, nft load ${f(first.load)} ms, total ${f(first.total)} ms (${first.lines} nft lines)`,
  );
  const totals: number[] = [];
  const renders: number[] = [];
  const cpus: number[] = [];
  for (let c = 0; c < CHANGES; c++) {
    policies[c % policyCount] = policy(c % policyCount, 8081 + c);
    const r = await program(policies, endpoints);
    totals.push(r.total);
    renders.push(r.compute + r.render);
    cpus.push(r.cpu);
  }
  totals.sort((a, b) => a - b);
  renders.sort((a, b) => a - b);
  cpus.sort((a, b) => a - b);
  console.log(
    `  one change → loaded: p50 ${f(pct(totals, 0.5))} ms, p99 ${f(pct(totals, 0.99))} ms; of which compute+render p50 ${f(pct(renders, 0.5))} ms (CPU ${f(pct(cpus, 0.5))} ms)`,
  );
}

try {
  await scenario(pick('NETPOL_PODS', 1_000, 1_000), pick('NETPOL_POLICIES', 100, 100));
  await scenario(200, 1_000);
} finally {
  await nft(deleteTableScript(TABLE)).catch(() => undefined);
}
