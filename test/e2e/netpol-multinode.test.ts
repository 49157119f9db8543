// NetworkPolicy across nodes (src/netpol): the server's own agent and a second containerd agent in
// a network namespace (secondnode.ts). Peers are resolved over the whole cluster and each node
// enforces its own pods' side: ingress to a pod on node 1 from pods on node 2 is judged on node 1,
// egress of a pod on node 2 on node 2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { PodList } from 'kubernetes-types/core/v1.js';
import { until, type Cluster } from './harness.js';
import { SERVE_HOSTNAME, SecondNode, busyboxPodOn, startTwoNodeCluster, twoNodesUnavailable } from './secondnode.js';
import { networkPolicyTableName } from '../../src/netpol/index.js';

const skip = twoNodesUnavailable();

let c: Cluster | undefined;
const node2 = new SecondNode();
const ips: Record<string, string> = {};

const pod = busyboxPodOn;
const policy = (name: string, spec: object) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { namespace: 'default', name },
  spec,
});

async function expect(checks: [from: string, to: string, reachable: boolean][]): Promise<void> {
  let last = '';
  await until(
    checks.map(([f, t, r]) => `${f} ${r ? 'reaches' : 'is blocked from'} ${t}`).join('; '),
    async () => {
      for (const [from, to, reachable] of checks) {
        const r = await c!.kubectl(['exec', from, '--', 'timeout', '2', 'wget', '-qO-', `http://${ips[to]}:8080/`]);
        if ((r.code === 0) !== reachable) {
          last = `${from} → ${to}: ${r.code === 0 ? 'answered' : `failed: ${r.stderr.trim()}`}`;
          return false;
        }
      }
      return true;
    },
    20_000,
    200,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last: ${last})`);
  });
}

before(async () => {
  if (skip) return;
  c = await startTwoNodeCluster(node2, 'np-1', 'np-2', ['busybox']);
  await c.k(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        pod('web', 'np-1', { app: 'web' }, SERVE_HOSTNAME),
        pod('client', 'np-2', { role: 'client' }, SERVE_HOSTNAME),
        pod('stranger', 'np-2', {}, SERVE_HOSTNAME),
      ],
    }),
  );
  await c.k(['wait', '--for=condition=Ready', 'pods', '--all', '--timeout=180s']);
  const pods = JSON.parse(await c.k(['get', 'pods', '-o', 'json'])) as PodList;
  for (const p of pods.items) ips[p.metadata!.name!] = p.status!.podIP!;
});

after(async () => {
  if (skip) return;
  await node2.cleanup();
  await c?.cleanup();
});

test('pods on two nodes reach each other without policies', { skip, timeout: 60_000 }, async () => {
  await expect([
    ['client', 'web', true],
    ['stranger', 'web', true],
    ['web', 'stranger', true],
  ]);
});

test('ingress to a pod on node 1 admits only the labelled pod of node 2', { skip, timeout: 60_000 }, async () => {
  await c!.k(
    ['apply', '-f', '-'],
    JSON.stringify(
      policy('web-from-clients', {
        podSelector: { matchLabels: { app: 'web' } },
        ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }],
      }),
    ),
  );
  await expect([
    ['client', 'web', true],
    ['stranger', 'web', false],
  ]);
  await c!.k(['delete', 'networkpolicy', 'web-from-clients']);
  await expect([['stranger', 'web', true]]);
});

test('egress of a pod on node 2 is judged on node 2', { skip, timeout: 60_000 }, async () => {
  await c!.k(
    ['apply', '-f', '-'],
    JSON.stringify(
      policy('stranger-no-egress', {
        podSelector: {
          matchExpressions: [
            { key: 'role', operator: 'DoesNotExist' },
            { key: 'app', operator: 'DoesNotExist' },
          ],
        },
        policyTypes: ['Egress'],
      }),
    ),
  );
  const table = networkPolicyTableName(join(node2.dataDir, 'agent'), false);
  await expect([
    ['stranger', 'web', false],
    ['client', 'web', true],
    ['web', 'stranger', true], // replies of connections into the stranger pass
  ]).catch((err: Error) => {
    const rules = node2.exec('nft', ['list', 'table', 'inet', table]);
    throw new Error(`${err.message}\nnode 2's table:\n${rules}\nagent:\n${node2.output.slice(-3000)}`);
  });
  assert.match(node2.exec('nft', ['list', 'map', 'inet', table, 'egress-pods']), new RegExp(`${ips.stranger} :`));
  const hostTable = networkPolicyTableName(join(c!.dataDir, 'agent'), false);
  const onHost = spawnSync('nft', ['list', 'map', 'inet', hostTable, 'egress-pods'], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(onHost, new RegExp(`${ips.stranger} :`), 'node 1 does not isolate node 2 pods');
});
