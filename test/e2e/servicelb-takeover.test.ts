// LoadBalancer pool addresses move between nodes (issue 11: LB takeover, MetalLB layer-2 style):
// two containerd nodes (secondnode.ts), a backend on each behind one LoadBalancer Service with an
// address from --lb-address-pool. Exactly one node holds the address; the host reaches it over
// the link as an L2 neighbour would. When the holder's backend goes, the other node takes the
// address over (and the first withdraws it) and answers with its own backend; when that backend
// goes too, no node holds it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { run, until, type Cluster } from './harness.js';
import { SERVE_HOSTNAME, SecondNode, busyboxPodOn, startTwoNodeCluster, twoNodesUnavailable } from './secondnode.js';

const skip = twoNodesUnavailable();
const node2 = new SecondNode();
// A random /29 so concurrent clusters on this host never share addresses: .1 to .6 are handed out.
const X = 1 + Math.floor(Math.random() * 250);
const POOL = `10.251.${X}.0/29`;
const ADDRESS = `10.251.${X}.1`;
const BACKEND_OF: Record<string, string> = { 'lbt-1': 'web-1', 'lbt-2': 'web-2' };
let c: Cluster | undefined;

const hasAddress = (ipAddrOutput: string) => ipAddrOutput.split(/\s+/).includes(`${ADDRESS}/32`);

/** The nodes whose interfaces carry the address now. */
function holders(): string[] {
  const host = spawnSync('ip', ['-o', '-4', 'addr', 'show'], { encoding: 'utf8' }).stdout ?? '';
  const ns = node2.exec('ip', ['-o', '-4', 'addr', 'show']);
  return [...(hasAddress(host) ? ['lbt-1'] : []), ...(hasAddress(ns) ? ['lbt-2'] : [])];
}

const fetchFromHost = async () =>
  (await run('curl', ['-s', '--max-time', '3', `http://${ADDRESS}/`], { timeoutMs: 10_000 })).stdout.trim();

/** Waits until exactly `node` holds the address and the host's requests reach `backend`. */
async function heldBy(node: string, backend: string): Promise<void> {
  let seen = '';
  await until(
    `${ADDRESS} held by ${node} alone and answering from ${backend}`,
    async () => {
      const h = holders();
      seen = `holders [${h.join(', ')}]`;
      if (h.length !== 1 || h[0] !== node) return false;
      const body = await fetchFromHost();
      seen += `, answer ${JSON.stringify(body)}`;
      return body === backend;
    },
    60_000,
    250,
  ).catch((err: Error) => {
    throw new Error(`${err.message} (last: ${seen})\nagent 2:\n${node2.output.slice(-1500)}`);
  });
}

before(async () => {
  if (skip) return;
  c = await startTwoNodeCluster(node2, 'lbt-1', 'lbt-2', ['busybox'], ['--lb-address-pool', POOL]);
  node2.routeOnLink(POOL);
  await c.k(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        busyboxPodOn('web-1', 'lbt-1', { app: 'lbt' }, SERVE_HOSTNAME),
        busyboxPodOn('web-2', 'lbt-2', { app: 'lbt' }, SERVE_HOSTNAME),
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { namespace: 'default', name: 'lbt' },
          spec: { type: 'LoadBalancer', selector: { app: 'lbt' }, ports: [{ port: 80, targetPort: 8080 }] },
        },
      ],
    }),
  );
  await c.k(['wait', '--for=condition=Ready', 'pod/web-1', 'pod/web-2', '--timeout=120s']);
});

after(async () => {
  await c?.cleanup();
  await node2.cleanup();
});

test('the address moves to the other node when the holder loses its backend', { skip, timeout: 240_000 }, async (t) => {
  const ip = await until('an address from the pool', async () => {
    const r = await c!.kubectl(['get', 'svc', 'lbt', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
    return r.stdout.trim() || false;
  });
  assert.equal(ip, ADDRESS);

  // Exactly one node holds it; the elected one is the same on both agents' view.
  await until('one holder', () => holders().length === 1, 60_000, 250);
  const first = holders()[0];
  await heldBy(first, BACKEND_OF[first]);

  // The holder's backend goes: the other node is the only candidate and takes the address over.
  const other = first === 'lbt-1' ? 'lbt-2' : 'lbt-1';
  const movedFrom = Date.now();
  await c!.k(['delete', 'pod', BACKEND_OF[first], '--wait=false']);
  await heldBy(other, BACKEND_OF[other]);
  t.diagnostic(`takeover ${first} -> ${other} in ${Date.now() - movedFrom} ms`);

  // No backend left anywhere: no node announces the address.
  await c!.k(['delete', 'pod', BACKEND_OF[other], '--wait=false']);
  await until('nobody holds the address', () => holders().length === 0, 60_000, 250);
});
