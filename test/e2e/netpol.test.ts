// NetworkPolicy enforcement with real containers (src/netpol): pods in three namespaces, traffic
// checked from inside pods with busybox wget/nslookup. Default deny, podSelector + port, named
// ports, namespaceSelector across namespaces, ClusterIP traffic judged by the backend, ipBlock with
// except, egress deny with a DNS exception, deletion restoring traffic; `k8ts killall` removes the
// table. Also measures policy create → programmed on the node (docs/benchmarks.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  importTestImages,
  podDNSDiagnosis,
  run,
  startCluster,
  until,
  K8TS_BIN,
  type Cluster,
  waitForReadyNode,
  serviceNetworkingUnavailable,
} from './harness.js';
import type { PodList, Service } from 'kubernetes-types/core/v1.js';
import { networkPolicyTableName } from '../../src/netpol/index.js';

const skip = serviceNetworkingUnavailable();
let c: Cluster;
let table: string;
const ips: Record<string, string> = {};

const server = (ns: string, name: string, labels: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: ns, name, labels },
  spec: {
    containers: [
      {
        name: 'httpd',
        image: 'k8ts.local/httpd:1.35',
        ports: [
          { name: 'http', containerPort: 8080 },
          { name: 'alt', containerPort: 8081 },
        ],
        command: [
          'sh',
          '-c',
          "hostname > /www/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & httpd -f -p 8081 -h /www & nc -ll -p 9000 -e /bin/cat & wait",
        ],
      },
    ],
  },
});
const client = (ns: string, name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: ns, name, labels },
  spec: {
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'c', image: 'k8ts.local/busybox:1.35', command: ['sleep', '3600'] }],
  },
});
const ns = (name: string, team: string) => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels: { team } },
});

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

const policy = (namespace: string, name: string, spec: object) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace, name },
  spec,
});

/** Whether `pod` gets an answer from `url` within 2 s (busybox wget has no working -T: timeout does it). */
async function reaches(where: string, url: string): Promise<boolean> {
  const [namespace, pod] = where.split('/');
  const r = await c.kubectl(['exec', '-n', namespace, pod, '--', 'timeout', '2', 'wget', '-qO-', url]);
  return r.code === 0;
}

/** Waits until every check gives its expected answer (rules take effect asynchronously). */
async function expect(checks: [from: string, url: string, reachable: boolean][], timeoutMs = 15_000): Promise<void> {
  await until(
    checks.map(([f, u, r]) => `${f} ${r ? 'reaches' : 'is blocked from'} ${u}`).join('; '),
    async () => {
      for (const [from, url, reachable] of checks) if ((await reaches(from, url)) !== reachable) return false;
      return true;
    },
    timeoutMs,
    200,
  );
}

const web = (port = 8080) => `http://${ips.web}:${port}/`;

/** Whether the node's table sends traffic to `ip` through an ingress pod chain. */
const isolated = (ip: string) =>
  spawnSync('nft', ['list', 'map', 'inet', table, 'ingress-pods'], { encoding: 'utf8' }).stdout.includes(`${ip} :`);

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true });
  table = networkPolicyTableName(join(c.dataDir, 'agent'), false);
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox', 'httpd']);
  await apply(ns('np-a', 'a'), ns('np-b', 'b'), ns('np-c', 'c'));
  await apply(
    server('np-a', 'web', { app: 'web' }),
    server('np-a', 'web2', { app: 'web2' }),
    client('np-a', 'client', { role: 'client' }),
    client('np-a', 'stranger'),
    client('np-b', 'remote', { role: 'client' }),
    client('np-c', 'outsider'),
  );
  await c.k(['expose', '-n', 'np-a', 'pod', 'web', '--port', '80', '--target-port', '8080']);
  for (const n of ['np-a', 'np-b', 'np-c'])
    await c.k(['wait', '-n', n, '--for=condition=Ready', 'pods', '--all', '--timeout=120s']);
  const pods = JSON.parse(await c.k(['get', 'pods', '-A', '-o', 'json'])) as PodList;
  for (const p of pods.items) ips[p.metadata!.name!] = p.status!.podIP!;
});

after(async () => {
  if (c) await c.cleanup();
});

test('without policies every pod reaches every pod', { skip, timeout: 60_000 }, async () => {
  await expect([
    ['np-a/client', web(), true],
    ['np-a/stranger', web(8081), true],
    ['np-b/remote', web(), true],
    ['np-c/outsider', web(), true],
  ]);
});

test(
  'default deny ingress in a namespace blocks pod-to-pod, also from other namespaces',
  { skip, timeout: 60_000 },
  async () => {
    await apply(policy('np-a', 'default-deny', { podSelector: {} }));
    await expect([
      ['np-a/client', web(), false],
      ['np-b/remote', web(), false],
      ['np-a/stranger', `http://${ips.web2}:8081/`, false],
    ]);
  },
);

test(
  'podSelector + port lets only the labelled client in, only on that port; ClusterIP is judged by the backend',
  { skip, timeout: 90_000 },
  async () => {
    await apply(
      policy('np-a', 'web-from-clients', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [
          { from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ protocol: 'TCP', port: 8080 }] },
        ],
      }),
    );
    const svc = (JSON.parse(await c.k(['get', 'svc', '-n', 'np-a', 'web', '-o', 'json'])) as Service).spec!.clusterIP!;
    await expect([
      ['np-a/client', web(), true],
      ['np-a/client', web(8081), false],
      ['np-a/stranger', web(), false],
      ['np-b/remote', web(), false], // role=client, but a podSelector alone means the policy's namespace
      ['np-a/client', `http://${svc}/`, true],
      ['np-a/stranger', `http://${svc}/`, false],
      ['np-a/client', `http://${ips.web2}:8080/`, false], // web2 stays default-denied
    ]);
  },
);

test('namespaceSelector lets a labelled namespace in, on a port given by name', { skip, timeout: 60_000 }, async () => {
  await apply(
    policy('np-a', 'web-from-team-b', {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'b' } } }], ports: [{ port: 'alt' }] }],
    }),
  );
  await expect([
    ['np-b/remote', web(8081), true],
    ['np-b/remote', web(8080), false],
    ['np-c/outsider', web(8081), false],
  ]);
});

test('deleting the policies restores traffic within a couple of seconds', { skip, timeout: 60_000 }, async () => {
  const started = Date.now();
  await c.k(['delete', 'networkpolicy', '-n', 'np-a', '--all']);
  await expect([
    ['np-a/stranger', web(8081), true],
    ['np-c/outsider', web(), true],
  ]);
  assert.ok(Date.now() - started < 5_000, `restored after ${Date.now() - started} ms`);
});

test('ipBlock with except: the pod range minus one pod', { skip, timeout: 60_000 }, async () => {
  const podRange = `${ips.web.split('.').slice(0, 2).join('.')}.0.0/16`;
  await apply(
    policy('np-a', 'web-from-block', {
      podSelector: { matchLabels: { app: 'web' } },
      ingress: [{ from: [{ ipBlock: { cidr: podRange, except: [`${ips.stranger}/32`] } }] }],
    }),
  );
  await expect([
    ['np-a/client', web(), true],
    ['np-c/outsider', web(), true],
    ['np-a/stranger', web(), false],
  ]);
  await c.k(['delete', 'networkpolicy', '-n', 'np-a', 'web-from-block']);
  await expect([['np-a/stranger', web(), true]]);
});

test(
  'egress deny with a DNS exception still resolves names; egress to one ipBlock only',
  { skip, timeout: 90_000 },
  async () => {
    const resolves = async () =>
      (
        await c.kubectl([
          'exec',
          '-n',
          'np-c',
          'outsider',
          '--',
          'timeout',
          '3',
          'nslookup',
          'web.np-a.svc.cluster.local',
        ])
      ).code === 0;
    // A precondition, not the subject: one exec failed at once in CI (load); the policy steps below poll too.
    await until('name resolution before any policy', resolves, {
      timeoutMs: 10_000,
      stepMs: 200,
      diag: () => podDNSDiagnosis(c, 'outsider', 'np-c'),
    });
    await apply(policy('np-c', 'deny-egress', { podSelector: {}, policyTypes: ['Egress'] }));
    await until('name resolution blocked', async () => !(await resolves()), 15_000, 200);
    await expect([['np-c/outsider', web(), false]]);
    await apply(
      policy('np-c', 'allow-dns-and-web2', {
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
                podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
              },
            ],
            ports: [
              { protocol: 'UDP', port: 53 },
              { protocol: 'TCP', port: 53 },
            ],
          },
          { to: [{ ipBlock: { cidr: `${ips.web2}/32` } }] },
        ],
      }),
    );
    await until('name resolution allowed', resolves, 15_000, 200);
    await expect([
      ['np-c/outsider', `http://${ips.web2}:8080/`, true],
      ['np-c/outsider', web(), false],
    ]);
    await c.k(['delete', 'networkpolicy', '-n', 'np-c', '--all']);
    await expect([['np-c/outsider', web(), true]]);
  },
);

test(
  'a connection established before a deny policy keeps flowing; new ones are refused',
  { skip, timeout: 90_000 },
  async () => {
    // One TCP connection to the echo server on web:9000, a line a second for 10 s.
    const echo = spawn(
      'kubectl',
      [
        '--kubeconfig',
        c.kubeconfig,
        'exec',
        '-n',
        'np-a',
        'client',
        '--',
        'sh',
        '-c',
        `i=0; while [ $i -lt 10 ]; do echo ping$i; sleep 1; i=$((i+1)); done | nc ${ips.web} 9000`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    echo.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => echo.once('exit', () => resolve()));
    const pings = () => out.split('\n').filter((l) => l.startsWith('ping')).length;
    await until('the first echo', () => Promise.resolve(pings() >= 1), 20_000, 50);
    await apply(policy('np-a', 'deny-web', { podSelector: { matchLabels: { app: 'web' } } }));
    await until('web isolated', () => Promise.resolve(isolated(ips.web)), 10_000, 20);
    const atEnforcement = pings();
    // The loop ends after 10 s; a connection cut by the policy leaves nc waiting forever.
    const ended = await Promise.race([exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!ended) echo.kill();
    assert.ok(pings() >= Math.min(10, atEnforcement + 3), `echoes after the policy: ${out}`);
    await expect([['np-a/client', web(), false]]);
    await c.k(['delete', 'networkpolicy', '-n', 'np-a', 'deny-web']);
    await expect([['np-a/client', web(), true]]);
  },
);

// Each create and delete must reach the node's rules (bounded wait). How fast is a benchmark's
// question (bench:netpol); the time is printed here only as a hint.
test('policy create → programmed on the node, delete → removed, ten times', { skip, timeout: 240_000 }, async () => {
  const times: number[] = [];
  for (let i = 0; i < 10; i++) {
    const started = performance.now();
    await apply(policy('np-b', 'isolate', { podSelector: { matchLabels: { role: 'client' } } }));
    await until('isolated', () => Promise.resolve(isolated(ips.remote)), 10_000, 5);
    times.push(performance.now() - started);
    await c.k(['delete', 'networkpolicy', '-n', 'np-b', 'isolate']);
    await until('not isolated', () => Promise.resolve(!isolated(ips.remote)), 10_000, 5);
  }
  times.sort((a, b) => a - b);
  const p50 = times[Math.floor(times.length / 2)];
  console.log(
    `netpol create → programmed: p50 ${p50.toFixed(0)} ms, max ${times[times.length - 1].toFixed(0)} ms (kubectl apply included)`,
  );
});

test('k8ts killall removes the policy table', { skip, timeout: 120_000 }, async () => {
  const tables = () => spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout;
  assert.match(tables(), new RegExp(`table inet ${table}\\b`));
  await c.stop();
  const r = await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', c.dataDir], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(tables(), new RegExp(`table inet ${table}\\b`));
});
