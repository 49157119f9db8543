// Services and cluster DNS across two nodes (issue 11, item 4): the server's own agent and a second
// containerd agent in a network namespace (secondnode.ts). A backend on each node behind one
// Service; from client pods on both nodes the Service answers by name, by FQDN and by ClusterIP
// with both backends; its NodePort answers on both nodes' addresses; DNS resolves from both.
// The cluster runs on a domain of its own, given to the server only: the joined agent learns it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Service } from 'kubernetes-types/core/v1.js';
import { run, until, type Cluster } from './harness.js';
import { SERVE_HOSTNAME, SecondNode, busyboxPodOn, startTwoNodeCluster, twoNodesUnavailable } from './secondnode.js';

const skip = twoNodesUnavailable();
const DOMAIN = 'k8ts.test';

let c: Cluster | undefined;
const node2 = new SecondNode();
let svc: Service | undefined;

const pod = busyboxPodOn;
// Each backend answers with its pod name, so a client can tell which one served it.
const idle = "trap 'exit 0' TERM; sleep 3600 & wait";

/** The backends that answered `url` from `client` over `tries` requests (each a new connection). */
async function answering(client: string, url: string, tries: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < tries; i++) {
    const r = await c!.kubectl(['exec', client, '--', 'timeout', '3', 'wget', '-qO-', url]);
    if (r.code === 0) seen.add(r.stdout.trim());
  }
  return seen;
}

/** Waits until both backends have answered `url` from `client`. */
async function reachesBoth(client: string, url: string): Promise<void> {
  const seen = new Set<string>();
  await until(
    `${client} reaches both backends at ${url}`,
    async () => {
      for (const b of await answering(client, url, 6)) seen.add(b);
      return seen.has('web-1') && seen.has('web-2');
    },
    45_000,
    200,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message} (answered: ${[...seen].join(', ') || 'none'})\nagent 2:\n${node2.output.slice(-2000)}`,
    );
  });
}

before(async () => {
  if (skip) return;
  c = await startTwoNodeCluster(node2, 'sv-1', 'sv-2', ['busybox'], ['--cluster-domain', DOMAIN]);
  await c.k(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        pod('web-1', 'sv-1', { app: 'web' }, SERVE_HOSTNAME),
        pod('web-2', 'sv-2', { app: 'web' }, SERVE_HOSTNAME),
        pod('client-1', 'sv-1', {}, idle),
        pod('client-2', 'sv-2', {}, idle),
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { namespace: 'default', name: 'web' },
          spec: { type: 'NodePort', selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
        },
      ],
    }),
  );
  await c.k(['wait', '--for=condition=Ready', 'pods', '--all', '--timeout=180s']);
  svc = JSON.parse(await c.k(['get', 'service', 'web', '-o', 'json'])) as Service;
});

after(async () => {
  if (skip) return;
  await node2.cleanup();
  await c?.cleanup();
});

for (const client of ['client-1', 'client-2']) {
  test(
    `from ${client}: the Service by name, FQDN and ClusterIP reaches the backends on both nodes`,
    {
      skip,
      timeout: 180_000,
    },
    async () => {
      await reachesBoth(client, 'http://web/');
      await reachesBoth(client, `http://web.default.svc.${DOMAIN}/`);
      await reachesBoth(client, `http://${svc!.spec!.clusterIP}/`);
    },
  );

  test(
    `from ${client}: cluster DNS answers for the API service, the Service and its SRV record`,
    {
      skip,
      timeout: 60_000,
    },
    async () => {
      // busybox's nslookup sends a name with a dot as it is (no search list): the FQDN.
      const a = await c!.kubectl(['exec', client, '--', 'nslookup', `kubernetes.default.svc.${DOMAIN}`]);
      assert.equal(a.code, 0, a.stderr + a.stdout);
      const kubernetes = JSON.parse(await c!.k(['get', 'service', 'kubernetes', '-o', 'json'])) as Service;
      assert.match(a.stdout, new RegExp(`Address:?\\s+${kubernetes.spec!.clusterIP!.replace(/\./g, '\\.')}`));
      const srv = await c!.kubectl([
        'exec',
        client,
        '--',
        'nslookup',
        '-type=SRV',
        `_http._tcp.web.default.svc.${DOMAIN}`,
      ]);
      assert.equal(srv.code, 0, srv.stderr + srv.stdout);
      assert.match(srv.stdout, new RegExp(`80 web\\.default\\.svc\\.${DOMAIN.replace('.', '\\.')}`));
    },
  );
}

test('the NodePort answers on both nodes, with backends on both', { skip, timeout: 120_000 }, async () => {
  const nodePort = svc!.spec!.ports![0].nodePort!;
  // From the host to node 1's address and to node 2's (over the veth link); from node 2's
  // namespace to its own address.
  const fetchFromHost = async (ip: string) =>
    (await run('curl', ['-s', '--max-time', '3', `http://${ip}:${nodePort}/`], { timeoutMs: 10_000 })).stdout.trim();
  for (const [where, get] of [
    ['host → node 1', () => fetchFromHost(node2.hostIP)],
    ['host → node 2', () => fetchFromHost(node2.nsIP)],
    [
      'node 2 → node 2',
      () => Promise.resolve(node2.exec('curl', ['-s', '--max-time', '3', `http://${node2.nsIP}:${nodePort}/`]).trim()),
    ],
  ] as const) {
    const seen = new Set<string>();
    await until(
      `${where}: NodePort ${nodePort} reaches both backends`,
      async () => {
        seen.add(await get());
        return seen.has('web-1') && seen.has('web-2');
      },
      45_000,
      100,
    ).catch((err: Error) => {
      throw new Error(`${err.message} (answered: ${[...seen].join(', ')})`);
    });
  }
});
