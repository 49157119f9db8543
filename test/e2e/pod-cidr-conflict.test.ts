// A node whose pod range another device of the host already routes: here a bridge holding the
// range's gateway address, as a cluster on this host leaves it when it was never cleaned up
// (`k8ts killall`). The kernel keeps using the older route, so the node's answers to its pods would
// go to that bridge: CI's pods timed out asking the node's DNS listener. The agent reports the
// conflict in the node's Ready condition instead of starting pods, and sets up the pod network once
// the device is gone; a pod then resolves names through the node's listener.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  freeOctet,
  importTestImages,
  podDNSDiagnosis,
  realContainersUnavailable,
  startCluster,
  until,
  waitForReadyNode,
  type Cluster,
} from './harness.js';

const skip = realContainersUnavailable();
const leftover = `k8tsleft${randomBytes(3).toString('hex')}`;
const octet = freeOctet((n) => `10.${n}.`, 100, 250);
let c: Cluster | undefined;

const ip = (...args: string[]) => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
};

before(async () => {
  if (skip) return;
  // What a cluster of this range left: its bridge, up, without ports, with the gateway address.
  ip('link', 'add', 'name', leftover, 'type', 'bridge');
  ip('addr', 'add', `10.${octet}.0.1/24`, 'dev', leftover);
  ip('link', 'set', leftover, 'up');
  c = await startCluster({ agent: true, args: ['--cluster-cidr', `10.${octet}.0.0/16`] });
});

after(async () => {
  spawnSync('ip', ['link', 'delete', leftover], { stdio: 'ignore' });
  if (c) await c.cleanup();
});

test(
  "a pod range routed through another device: the node says so and stays NotReady until it is gone, then pods reach the node's DNS listener",
  { skip, timeout: 300_000 },
  async () => {
    const cluster = c!;
    const ready = async () =>
      JSON.parse(
        await cluster.k(['get', 'nodes', '-o', 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")]}']),
      ) as { status?: string; message?: string };
    const cond = await until(
      'the node to report the conflict',
      async () => {
        const r = await ready();
        return r.message?.includes(leftover) && r;
      },
      60_000,
      500,
    );
    assert.equal(cond.status, 'False');
    assert.match(
      cond.message ?? '',
      new RegExp(`pod CIDR 10\\.${octet}\\.0\\.0/24 is already routed through ${leftover}`),
    );
    // No listener was announced on an address whose replies would be lost.
    assert.equal(
      await cluster.k(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.annotations.k8ts\\.io/dns-listener}']),
      '',
    );

    ip('link', 'delete', leftover);
    await waitForReadyNode(cluster);
    const listener = await until(
      'the node to announce its DNS listener',
      () => cluster.k(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.annotations.k8ts\\.io/dns-listener}']),
      60_000,
      500,
    );
    assert.equal(listener, `10.${octet}.0.1`);
    await importTestImages(cluster, ['busybox']);
    await cluster.k(['run', 'client', '--image=k8ts.local/busybox:1.35', '--restart=Never', '--', 'sleep', '3600']);
    await cluster.k(['wait', '--for=condition=Ready', 'pod/client', '--timeout=240s']);
    const lookup = await cluster.kubectl([
      'exec',
      'client',
      '--',
      'nslookup',
      'kubernetes.default.svc.cluster.local',
      listener,
    ]);
    if (lookup.code !== 0 || !/Name:\s+kubernetes\.default\.svc\.cluster\.local/.test(lookup.stdout))
      assert.fail(
        `nslookup from the pod: ${lookup.stdout}${lookup.stderr}\n${await podDNSDiagnosis(cluster, 'client')}`,
      );
  },
);
