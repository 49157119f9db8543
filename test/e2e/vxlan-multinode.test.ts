// Pod networking over the VXLAN overlay (src/agent/network/vxlan.ts, flannel's vxlan backend) between
// nodes that do NOT share an L2 network: each node is a network namespace on a subnet of its own,
// and a router namespace forwards between the two subnets (and to the host, where the test and
// kubectl run). host-gw routes could not work here (the other node is behind a gateway). The
// server with its containerd agent runs in one namespace, `k8ts agent` in the other.
//
//          host (kubectl) ── 10.198.N.128/26 ── router ── 10.198.N.0/26  ── vx-1 (server + agent)
//                                                     └── 10.198.N.64/26 ── vx-2 (agent)
//
// Checked: flannel.1 on both nodes with the annotations, route, neighbour and FDB entries for the
// other; pod→pod by IP both ways and pod→Service (ClusterIP, the backend on the other node) both
// ways; the pods' MTU is the underlay's − 50; a Node gone removes its entries; `k8ts killall`
// removes flannel.1 of an agent killed with SIGKILL. The rig is removed at the end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Node } from 'kubernetes-types/core/v1.js';
import { freeOctet, importTestImages, until, type Cluster, startCluster, run, K8TS_BIN } from './harness.js';
import { SERVE_HOSTNAME, SecondNode, busyboxPodOn, twoNodesUnavailable } from './secondnode.js';

const skip = twoNodesUnavailable();
const tag = randomBytes(2).toString('hex');
const NS = { router: `k8vx${tag}-r`, one: `k8vx${tag}-1`, two: `k8vx${tag}-2` };
const HOST_VETH = `k8vx${tag}h`;

const N = freeOctet((n) => `10.198.${n}.`, 1, 250);
const POD = freeOctet((n) => `10.${n}.`, 150, 250);
const net = (last: number) => `10.198.${N}.${last}`;
const IP = { one: net(2), two: net(66), host: net(129) };

let rigUp = false;
let c: Cluster | undefined;
const node2 = new SecondNode({ ns: NS.two, nodeIP: IP.two, serverIP: IP.one });

function sh(cmd: string, args: string[]): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${res.stderr}`);
  return res.stdout;
}

/** A command's output in a namespace. */
const inNs = (ns: string, cmd: string, args: string[]) =>
  spawnSync('nsenter', [`--net=/run/netns/${ns}`, '--', cmd, ...args], { encoding: 'utf8' }).stdout ?? '';

function setUpRig(): void {
  for (const ns of Object.values(NS)) sh('ip', ['netns', 'add', ns]);
  rigUp = true;
  const r = NS.router;
  sh('ip', ['-n', r, 'link', 'set', 'lo', 'up']);
  sh('ip', ['netns', 'exec', r, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  // The host's leg: kubectl reaches the server through the router.
  sh('ip', ['link', 'add', HOST_VETH, 'type', 'veth', 'peer', 'name', 'host', 'netns', r]);
  sh('ip', ['addr', 'add', `${IP.host}/26`, 'dev', HOST_VETH]);
  sh('ip', ['link', 'set', HOST_VETH, 'up']);
  sh('ip', ['-n', r, 'addr', 'add', `${net(130)}/26`, 'dev', 'host']);
  sh('ip', ['-n', r, 'link', 'set', 'host', 'up']);
  sh('ip', ['route', 'replace', `10.198.${N}.0/25`, 'via', net(130)]);
  for (const [ns, gw, ip] of [
    [NS.one, net(1), IP.one],
    [NS.two, net(65), IP.two],
  ]) {
    sh('ip', ['-n', r, 'link', 'add', `to-${ns.slice(-1)}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    sh('ip', ['-n', r, 'addr', 'add', `${gw}/26`, 'dev', `to-${ns.slice(-1)}`]);
    sh('ip', ['-n', r, 'link', 'set', `to-${ns.slice(-1)}`, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', `${ip}/26`, 'dev', 'eth0']);
    sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', gw]);
  }
}

function tearDownRig(): void {
  if (!rigUp) return;
  spawnSync('ip', ['route', 'del', `10.198.${N}.0/25`]);
  spawnSync('ip', ['link', 'delete', HOST_VETH], { stdio: 'ignore' });
  for (const ns of Object.values(NS)) spawnSync('ip', ['netns', 'delete', ns]);
}

const pod = busyboxPodOn;
const idle = "trap 'exit 0' TERM; sleep 3600 & wait";

before(async () => {
  if (skip) return;
  setUpRig();
  c = await startCluster({
    agent: true,
    netns: NS.one,
    args: [
      ...['--bind-address', IP.one, '--node-ip', IP.one, '--node-name', 'vx-1'],
      ...['--cluster-cidr', `10.${POD}.0.0/16`, '--runtime', 'containerd', '--flannel-backend', 'vxlan'],
    ],
  });
  await until(
    'node vx-1 Ready',
    async () => /\sReady\s/.test((await c!.kubectl(['get', 'nodes', 'vx-1', '--no-headers'])).stdout),
    120_000,
    500,
  );
  await importTestImages(c, ['busybox']);
  await node2.join(c, 'vx-2', ['busybox']);
  await c.k(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        pod('web-1', 'vx-1', { app: 'web-1' }, SERVE_HOSTNAME),
        pod('web-2', 'vx-2', { app: 'web-2' }, SERVE_HOSTNAME),
        pod('client-1', 'vx-1', {}, idle),
        pod('client-2', 'vx-2', {}, idle),
        ...['web-1', 'web-2'].map((name) => ({
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { namespace: 'default', name },
          spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] },
        })),
      ],
    }),
  );
  await c.k(['wait', '--for=condition=Ready', 'pods', '--all', '--timeout=180s']);
});

after(async () => {
  if (skip) return;
  await node2.cleanup();
  await c?.cleanup();
  tearDownRig();
});

const getNode = async (name: string) => JSON.parse(await c!.k(['get', 'node', name, '-o', 'json'])) as Node;

test('the nodes are not on one L2 network: the other node is behind the router', { skip }, () => {
  assert.match(inNs(NS.one, 'ip', ['route', 'get', IP.two]), new RegExp(`via ${net(1).replace(/\./g, '\\.')}`));
  assert.match(inNs(NS.two, 'ip', ['route', 'get', IP.one]), new RegExp(`via ${net(65).replace(/\./g, '\\.')}`));
});

test(
  'each node has flannel.1, publishes its VTEP and has route, neighbour and FDB entries for the other',
  { skip, timeout: 60_000 },
  async () => {
    const nodes = { one: await getNode('vx-1'), two: await getNode('vx-2') };
    for (const [k, n] of Object.entries(nodes) as ['one' | 'two', Node][]) {
      const a = n.metadata?.annotations ?? {};
      assert.equal(a['flannel.alpha.coreos.com/backend-type'], 'vxlan');
      assert.equal(a['flannel.alpha.coreos.com/public-ip'], IP[k]);
      assert.equal(a['flannel.alpha.coreos.com/kube-subnet-manager'], 'true');
      const data = JSON.parse(a['flannel.alpha.coreos.com/backend-data']) as { VNI: number; VtepMAC: string };
      assert.equal(data.VNI, 1);
      const dev = JSON.parse(inNs(NS[k], 'ip', ['-j', '-d', 'link', 'show', 'flannel.1']))[0];
      assert.equal(dev.address, data.VtepMAC, `${k}: the published MAC is flannel.1's`);
      assert.equal(dev.mtu, 1450);
      assert.equal(dev.linkinfo.info_kind, 'vxlan');
      assert.equal(dev.linkinfo.info_data.id, 1);
      assert.equal(dev.linkinfo.info_data.port, 8472);
      assert.equal(dev.linkinfo.info_data.learning, false);
    }
    for (const [self, other] of [
      ['one', 'two'],
      ['two', 'one'],
    ] as const) {
      const cidr = nodes[other].spec!.podCIDR!;
      const vtep = cidr.replace(/\.0\/24$/, '.0');
      const mac = JSON.parse(nodes[other].metadata!.annotations!['flannel.alpha.coreos.com/backend-data']).VtepMAC;
      await until(
        `${self}'s overlay entries for ${other}`,
        () =>
          inNs(NS[self], 'ip', ['route', 'show', cidr]).includes(`via ${vtep} dev flannel.1 onlink`) &&
          inNs(NS[self], 'ip', ['neigh', 'show', vtep, 'dev', 'flannel.1']).includes(`lladdr ${mac} PERMANENT`) &&
          inNs(NS[self], 'bridge', ['fdb', 'show', 'dev', 'flannel.1']).includes(
            `${mac} dst ${IP[other]} self permanent`,
          ),
        30_000,
        500,
      );
    }
  },
);

test("pods get the overlay's MTU (the underlay's 1500 − 50)", { skip, timeout: 60_000 }, async () => {
  for (const p of ['client-1', 'client-2'])
    assert.equal((await c!.k(['exec', p, '--', 'cat', '/sys/class/net/eth0/mtu'])).trim(), '1450');
});

/** What `url` answers from pod `from` (bounded: busybox's wget -T is broken, timeout(1) bounds it). */
async function fetchFrom(from: string, url: string, expect: string): Promise<void> {
  let last = '';
  await until(
    `${from} fetching ${url}`,
    async () => {
      const r = await c!.kubectl(['exec', from, '--', 'timeout', '5', 'wget', '-qO-', url], { timeoutMs: 20_000 });
      last = `${r.code} ${r.stderr}${r.stdout}`;
      return r.code === 0 && r.stdout.trim() === expect;
    },
    60_000,
    500,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last: ${last})\nagent vx-2:\n${node2.output.slice(-3000)}`);
  });
}

const podIP = async (name: string) => (await c!.k(['get', 'pod', name, '-o', 'jsonpath={.status.podIP}'])).trim();
const clusterIP = async (name: string) =>
  (await c!.k(['get', 'service', name, '-o', 'jsonpath={.spec.clusterIP}'])).trim();

test('pods on different nodes reach each other by pod IP over VXLAN', { skip, timeout: 150_000 }, async () => {
  await fetchFrom('client-1', `http://${await podIP('web-2')}:8080/`, 'web-2');
  await fetchFrom('client-2', `http://${await podIP('web-1')}:8080/`, 'web-1');
});

test('a Service whose backend is on the other node answers by ClusterIP', { skip, timeout: 150_000 }, async () => {
  await fetchFrom('client-1', `http://${await clusterIP('web-2')}/`, 'web-2');
  await fetchFrom('client-2', `http://${await clusterIP('web-1')}/`, 'web-1');
});

test(
  'an agent killed with SIGKILL: killall removes its flannel.1; the Node deleted, the other node drops its entries',
  { skip, timeout: 120_000 },
  async () => {
    const cidr2 = (await getNode('vx-2')).spec!.podCIDR!;
    assert.equal(await node2.stopAgent('SIGKILL'), 'SIGKILL');
    assert.match(inNs(NS.two, 'ip', ['link', 'show']), /flannel\.1/, 'a killed agent leaves its device');
    const killall = await run(
      'nsenter',
      [`--net=/run/netns/${NS.two}`, '--', process.execPath, K8TS_BIN, 'killall', '--data-dir', node2.dataDir],
      { timeoutMs: 120_000 },
    );
    assert.equal(killall.code, 0, killall.stderr);
    assert.doesNotMatch(inNs(NS.two, 'ip', ['link', 'show']), /flannel\.1/);
    assert.doesNotMatch(inNs(NS.two, 'ip', ['route', 'show']), /flannel\.1/);

    await c!.k(['delete', 'node', 'vx-2', '--wait=false']);
    await until(
      "vx-1 drops vx-2's route, neighbour and FDB entry",
      () =>
        !inNs(NS.one, 'ip', ['route', 'show', cidr2]).includes('flannel.1') &&
        !inNs(NS.one, 'ip', ['neigh', 'show', 'dev', 'flannel.1']).includes('PERMANENT') &&
        !inNs(NS.one, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']).includes(`dst ${IP.two}`),
      30_000,
      500,
    );
  },
);
