// Cluster DNS throughput: dnsperf (Debian) against k8ts' DNS server and against dnsmasq serving
// the same names from a hosts file, in the same run, for cluster names (answered from the
// informer stores) and external names (k8ts forwards them to the dnsmasq instance and caches
// them). Each server runs in its own process; the CPU it used is read from /proc, so qps per
// CPU-second compares with CoreDNS's published per-core figure. The k8ts process also reports the
// heap its stores take per 1,000 services + endpoints.
//   npm run bench:dns   (BENCH_SCALE=small for a short run; DNS_SERVICES, DNS_SECONDS)
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Stored } from '../src/client/types.js';
import { pct, pick } from './common.js';

const SERVICES = pick('DNS_SERVICES', 1000, 200);
const SECONDS = pick('DNS_SECONDS', 10, 3);
const EXTERNAL = 200;
const CREATED = pick('DNS_CREATED', 200, 50);

const svcIP = (i: number) => `10.43.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`;
const podIP = (i: number) => `10.42.${Math.floor(i / 250) + 1}.${(i % 250) + 1}`;
const extIP = (i: number) => `192.0.2.${(i % 250) + 1}`;

/** Services (half ClusterIP, half headless with one endpoint each), as an informer holds them. */
function clusterObjects(n: number): { services: Service[]; slices: EndpointSlice[] } {
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let i = 0; i < n; i++) {
    const name = `svc-${i}`;
    const headless = i % 2 === 1;
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name,
        namespace: 'default',
        uid: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
        resourceVersion: String(1000 + i),
        creationTimestamp: '2026-12-06T00:00:00Z',
        labels: { app: name },
      },
      spec: {
        type: 'ClusterIP',
        clusterIP: headless ? 'None' : svcIP(i),
        clusterIPs: [headless ? 'None' : svcIP(i)],
        selector: { app: name },
        ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
        sessionAffinity: 'None',
        ipFamilies: ['IPv4'],
        ipFamilyPolicy: 'SingleStack',
      },
      status: { loadBalancer: {} },
    });
    slices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${name}-abcde`,
        namespace: 'default',
        uid: `10000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
        resourceVersion: String(5000 + i),
        labels: {
          'kubernetes.io/service-name': name,
          'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        },
      },
      addressType: 'IPv4',
      endpoints: [
        {
          addresses: [podIP(i)],
          conditions: { ready: true, serving: true, terminating: false },
          nodeName: 'node-1',
          targetRef: {
            kind: 'Pod',
            namespace: 'default',
            name: `${name}-pod`,
            uid: `20000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
          },
        },
      ],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
  }
  return { services, slices };
}

/** The child: k8ts' DNS server over stores holding the objects; prints "ready PORT HEAP_MB". */
async function serve(upstreamPort: number): Promise<void> {
  const { staticView, slimService, slimSlice } = await import('../src/dns/view.js');
  const { parseCorefile } = await import('../src/dns/corefile.js');
  const { buildConfig, wireCacheFor } = await import('../src/dns/build.js');
  const { DnsServer } = await import('../src/dns/server.js');
  const { Registry } = await import('prom-client');
  const { DnsMetrics } = await import('../src/dns/plugins.js');
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  // Objects arrive as JSON from a watch, one by one: each is parsed and slimmed as the DNS's
  // informers do, and only the slim copy stays (the parsed object is garbage at once; keeping the
  // whole parsed list alive while measuring counted it as the stores' heap).
  const view = (() => {
    const { services, slices } = clusterObjects(SERVICES);
    const arrived = <T>(o: T) => JSON.parse(JSON.stringify(o)) as Stored<T>;
    return staticView({
      namespaces: ['default'],
      services: services.map((s) => slimService(arrived(s))),
      slices: slices.map((s) => slimSlice(arrived(s))),
    });
  })();
  gc?.();
  const heapMB = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
  const corefile = `.:53 {\n errors\n kubernetes cluster.local in-addr.arpa ip6.arpa {\n  pods insecure\n  fallthrough in-addr.arpa ip6.arpa\n }\n prometheus :9153\n forward . 127.0.0.1:${upstreamPort}\n cache 30\n loadbalance\n}\n`;
  const built = buildConfig(parseCorefile(corefile).blocks, {
    view,
    logger: pino({ level: 'silent' }),
    metrics: new DnsMetrics(new Registry()),
    resolvConf: '',
    ownAddresses: [],
    hostSearch: [],
  });
  // As the agent serves it: the chain behind the wire cache (the static view never changes).
  const handler = {
    current: built.handler,
    wire: process.env.DNS_WIRE_CACHE === '0' ? undefined : wireCacheFor(built, () => 0),
  };
  const server = new DnsServer({ address: '127.0.0.1', port: 0, handler });
  await server.start();
  process.stdout.write(`ready ${server.port} ${heapMB.toFixed(3)}\n`);
}

/**
 * From `kubectl create service` to the name resolving: Services created one at a time on an
 * embedded API server, watched over HTTPS by ClusterWatch (as an agent watches), the name asked
 * every millisecond through the chain until it answers.
 */
async function createToResolve(): Promise<number[]> {
  const { startCluster } = await import('../src/embed/cluster.js');
  const { Client } = await import('../src/client/client.js');
  const { ClusterWatch, SERVICES: SVC } = await import('../src/dns/view.js');
  const { KubernetesPlugin } = await import('../src/dns/kubernetes.js');
  const { chain } = await import('../src/dns/plugin.js');
  const { handle } = await import('../src/dns/server.js');
  const embedded = await startCluster({ controllers: false });
  const client = Client.fromKubeconfig(embedded.kubeconfigPath, { fieldManager: 'bench' });
  const watch = new ClusterWatch(client, { watchPods: false });
  await watch.start();
  const handler = { current: chain([new KubernetesPlugin(watch)]) };
  const latencies: number[] = [];
  try {
    for (let i = 0; i < CREATED; i++) {
      const name = `new-${i}.default.svc.cluster.local`;
      const t0 = performance.now();
      await client
        .resource(SVC)
        .namespace('default')
        .create({ metadata: { name: `new-${i}` }, spec: { ports: [{ port: 80 }] } });
      for (;;) {
        const r = await handle(
          handler,
          { id: 1, opcode: 0, question: { name, type: 'A', class: 'IN' }, qname: name, rd: true, cd: false },
          'udp',
          '127.0.0.1',
        );
        if (r.answers.length) break;
        await new Promise((res) => setTimeout(res, 1));
      }
      latencies.push(performance.now() - t0);
    }
  } finally {
    await watch.stop();
    await client.close();
    await embedded.stop();
  }
  return latencies.sort((a, b) => a - b);
}

function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
}

function dnsperf(
  port: number,
  queries: string,
  pid: number,
): { qps: number; avgMs: number; lost: string; cpu: number } {
  const c0 = cpuSeconds(pid);
  const out = execFileSync(
    'dnsperf',
    ['-s', '127.0.0.1', '-p', String(port), '-d', queries, '-l', String(SECONDS), '-c', '4', '-q', '200', '-t', '2'],
    { encoding: 'utf8' },
  );
  const cpu = cpuSeconds(pid) - c0;
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(out)?.[1]);
  const avgMs = Number(/Average Latency \(s\):\s+([\d.]+)/.exec(out)?.[1]) * 1000;
  const lost = /Queries lost:\s+(\d+ \([\d.]+%\))/.exec(out)?.[1] ?? '?';
  return { qps, avgMs, lost, cpu };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-bench-dns-'));
  const children: ChildProcess[] = [];
  try {
    const hosts: string[] = [];
    for (let i = 0; i < SERVICES; i++) hosts.push(`${i % 2 ? podIP(i) : svcIP(i)} svc-${i}.default.svc.cluster.local`);
    for (let i = 0; i < EXTERNAL; i++) hosts.push(`${extIP(i)} ext-${i}.example.com`);
    writeFileSync(join(dir, 'hosts'), hosts.join('\n') + '\n');
    const clusterQ =
      Array.from({ length: SERVICES }, (_, i) => `svc-${i}.default.svc.cluster.local A`).join('\n') + '\n';
    const externalQ = Array.from({ length: EXTERNAL }, (_, i) => `ext-${i}.example.com A`).join('\n') + '\n';
    writeFileSync(join(dir, 'cluster.txt'), clusterQ);
    writeFileSync(join(dir, 'external.txt'), externalQ);
    const dnsmasqPort = 20000 + Math.floor(Math.random() * 20000);
    const dnsmasq = spawn(
      'dnsmasq',
      [
        '-k',
        '-C',
        '/dev/null',
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${join(dir, 'hosts')}`,
        `--port=${dnsmasqPort}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--cache-size=10000',
        // Answers with a TTL, as real upstreams give (dnsmasq's default for local names is 0,
        // which no cache keeps, so every external query would go upstream).
        '--local-ttl=300',
        '--pid-file=',
        '-u',
        'root',
      ],
      { stdio: 'ignore' },
    );
    children.push(dnsmasq);
    const self = fileURLToPath(import.meta.url);
    const k8ts = spawn(process.execPath, ['--expose-gc', self, '--serve', String(dnsmasqPort)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    children.push(k8ts);
    const [port, heapMB] = await new Promise<[number, number]>((resolve, reject) => {
      let out = '';
      k8ts.stdout.on('data', (d) => {
        out += d;
        const m = /ready (\d+) ([\d.]+)/.exec(out);
        if (m) resolve([Number(m[1]), Number(m[2])]);
      });
      k8ts.on('exit', (code) => reject(new Error(`k8ts DNS exited with ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 500));
    const runs: [string, number, string, number][] = [
      ['k8ts, cluster names', port, join(dir, 'cluster.txt'), k8ts.pid!],
      ['dnsmasq, cluster names (hosts file)', dnsmasqPort, join(dir, 'cluster.txt'), dnsmasq.pid!],
      ['k8ts, external names (forward + cache)', port, join(dir, 'external.txt'), k8ts.pid!],
      ['dnsmasq, external names (hosts file)', dnsmasqPort, join(dir, 'external.txt'), dnsmasq.pid!],
    ];
    // Warm up (JIT, k8ts' cache of the external names).
    for (const [, p, q] of runs)
      execFileSync('dnsperf', ['-s', '127.0.0.1', '-p', String(p), '-d', q, '-l', '1', '-c', '2', '-q', '50'], {
        encoding: 'utf8',
      });
    console.log(
      `cluster DNS benchmark: ${SERVICES} services (half headless), ${EXTERNAL} external names, dnsperf -l ${SECONDS} -c 4 -q 200, ${new Date().toISOString()}`,
    );
    console.log('| target | queries/s | avg latency ms | lost | server CPU s | queries per CPU-second |');
    console.log('|---|---|---|---|---|---|');
    const results: Record<string, number> = {};
    for (const [label, p, q, pid] of runs) {
      const r = dnsperf(p, q, pid);
      results[label] = r.qps;
      console.log(
        `| ${label} | ${r.qps.toFixed(0)} | ${r.avgMs.toFixed(2)} | ${r.lost} | ${r.cpu.toFixed(2)} | ${((r.qps * SECONDS) / Math.max(r.cpu, 0.01)).toFixed(0)} |`,
      );
    }
    console.log(
      `\nk8ts / dnsmasq, cluster names: ${(results[runs[0][0]] / results[runs[1][0]]).toFixed(2)}x; external names: ${(results[runs[2][0]] / results[runs[3][0]]).toFixed(2)}x`,
    );
    const created = await createToResolve();
    console.log(
      `Service created -> name resolves (${CREATED} services, over an HTTPS watch): p50 ${pct(created, 0.5).toFixed(1)} ms, p99 ${pct(created, 0.99).toFixed(1)} ms, max ${created[created.length - 1].toFixed(1)} ms`,
    );
    console.log(
      `heap of the DNS stores: ${heapMB.toFixed(2)} MB for ${SERVICES} services + ${SERVICES} endpoints = ${((heapMB / (2 * SERVICES)) * 1000).toFixed(2)} MB per 1,000 services+pods`,
    );
  } finally {
    for (const c of children) c.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') void serve(Number(process.argv[3]));
else
  void main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
