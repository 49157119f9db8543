// NetworkPolicy over IPv6 with real containers: a dual-stack cluster (`--cluster-cidr v4,v6`) gives
// every pod an address of each family; a policy admitting only labelled clients is enforced on
// the pods' IPv6 addresses as on their IPv4 ones (ip6 matches in the node's inet table), and an
// IPv6 ipBlock admits by CIDR. Skipped only where the host has no IPv6 at all.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { PodList } from 'kubernetes-types/core/v1.js';
import {
  freeOctet,
  importTestImages,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
  serviceNetworkingUnavailable,
} from './harness.js';
import { networkPolicyTableName } from '../../src/netpol/index.js';

const noIPv6 = () =>
  spawnSync('sh', ['-c', 'test -e /proc/net/if_inet6 && ip -6 addr show | grep -q inet6'], { stdio: 'ignore' })
    .status !== 0
    ? 'the host has no IPv6 (no /proc/net/if_inet6 or no inet6 address)'
    : undefined;
const skip = serviceNetworkingUnavailable() ?? noIPv6();
let c: Cluster;
let table: string;
const v6: Record<string, string> = {};
const v4: Record<string, string> = {};

const pod = (name: string, labels: Record<string, string>, serve: boolean) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels },
  spec: {
    terminationGracePeriodSeconds: 1,
    containers: [
      {
        name: 'c',
        image: 'k8ts.local/httpd:1.35',
        command: [
          'sh',
          '-c',
          serve ? "hostname > /www/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait" : 'sleep 3600',
        ],
      },
    ],
  },
});

const apply = (...objs: object[]) =>
  c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }));

/** Whether `from` gets the web pod's page at `ip` within 2 s. */
async function reaches(from: string, ip: string): Promise<boolean> {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  const r = await c.kubectl(['exec', from, '--', 'timeout', '2', 'wget', '-qO-', `http://${host}:8080/`]);
  return r.code === 0 && r.stdout.trim() === 'web';
}

async function expect(checks: [from: string, ip: () => string, reachable: boolean][]): Promise<void> {
  let last = '';
  await until(
    checks.map(([f, ip, r]) => `${f} ${r ? 'reaches' : 'is blocked from'} ${ip()}`).join('; '),
    async () => {
      for (const [from, ip, reachable] of checks)
        if ((await reaches(from, ip())) !== reachable) {
          last = `${from} → ${ip()}: ${reachable ? 'blocked' : 'answered'}`;
          return false;
        }
      return true;
    },
    { timeoutMs: 20_000, stepMs: 250, diag: () => last },
  );
}

before(async () => {
  if (skip) return;
  const n = freeOctet((o) => `10.${o}.`, 100, 250);
  c = await startCluster({ agent: true, args: ['--cluster-cidr', `10.${n}.0.0/16,fd42:${n.toString(16)}::/56`] });
  table = networkPolicyTableName(join(c.dataDir, 'agent'), false);
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd']);
  await apply(pod('web', { app: 'web' }, true), pod('client', { role: 'client' }, false), pod('stranger', {}, false));
  await c.k(['wait', '--for=condition=Ready', 'pods', '--all', '--timeout=180s']);
  const pods = JSON.parse(await c.k(['get', 'pods', '-o', 'json'])) as PodList;
  for (const p of pods.items) {
    const ips = (p.status?.podIPs ?? []).map((x) => x.ip ?? '');
    v4[p.metadata!.name!] = ips.find((ip) => !ip.includes(':')) ?? '';
    v6[p.metadata!.name!] = ips.find((ip) => ip.includes(':')) ?? '';
  }
});

after(async () => {
  if (c) await c.cleanup();
});

test(
  'dual-stack pods: an IPv6 address from the node range, reachable over IPv6',
  { skip, timeout: 60_000 },
  async () => {
    const node = JSON.parse(await c.k(['get', 'node', '-o', 'jsonpath={.items[0].spec.podCIDRs}'])) as string[];
    assert.equal(node.length, 2, `podCIDRs: ${JSON.stringify(node)}`);
    assert.match(node[1], /^fd42:[0-9a-f]+:0:0::\/64$|^fd42:[0-9a-f]+::\/64$/);
    assert.ok(v6.web && v6.client && v6.stranger, `IPv6 pod addresses: ${JSON.stringify(v6)}`);
    await expect([
      ['client', () => v6.web, true],
      ['stranger', () => v6.web, true],
    ]);
  },
);

test(
  'a policy is enforced on IPv6 pod addresses and IPv6 ipBlocks as on IPv4 ones',
  { skip, timeout: 120_000 },
  async () => {
    await apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'web-from-clients' },
      spec: {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 8080 }] }],
      },
    });
    await expect([
      ['client', () => v6.web, true],
      ['stranger', () => v6.web, false],
      ['client', () => v4.web, true],
      ['stranger', () => v4.web, false],
    ]);
    const map = spawnSync('nft', ['list', 'map', 'inet', table, 'ingress-pods6'], { encoding: 'utf8' }).stdout;
    assert.ok(map.includes(`${v6.web} :`), `the web pod's IPv6 address is isolated: ${map}`);
    // An ipBlock of the stranger's IPv6 address (as a /128) lets it in over IPv6 only.
    await apply({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'web-from-block' },
      spec: {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ ipBlock: { cidr: `${v6.stranger}/128` } }] }],
      },
    });
    await expect([
      ['stranger', () => v6.web, true],
      ['stranger', () => v4.web, false],
    ]);
    await c.k(['delete', 'networkpolicy', '--all']);
    await expect([['stranger', () => v6.web, true]]);
  },
);
