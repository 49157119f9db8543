// LoadBalancer addresses from --lb-address-pool: the pool's allocation rules, the controller keeping
// allocations across a restart and reporting exhaustion, and the agents' election of the announcer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { AddressPool, parsePoolCIDR, requestedAddress } from '../../src/controllers/servicelb/pool.js';
import { ServiceLBController } from '../../src/controllers/servicelb/controller.js';
import { announcements, electAnnouncer } from '../../src/agent/network/lbannounce.js';
import { R } from '../../src/client/client.js';
import { SharedInformerFactory } from '../../src/client/informer.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';
import { eventually, startTestApi } from './client-fixture.js';

/** Waits until `check` stops throwing. */
const settles = (check: () => Promise<void>) =>
  eventually(async () => {
    await check();
    return true;
  });

test('a pool hands out the lowest free address, skipping network and broadcast', () => {
  const pool = new AddressPool(['10.250.1.0/30', '10.250.2.7/32']);
  assert.deepEqual(pool.allocate('ns/a'), { ip: '10.250.1.1' });
  assert.deepEqual(pool.allocate('ns/b'), { ip: '10.250.1.2' });
  assert.deepEqual(pool.allocate('ns/c'), { ip: '10.250.2.7' });
  // Stable: asking again gives the same address.
  assert.deepEqual(pool.allocate('ns/a'), { ip: '10.250.1.1' });
  assert.deepEqual(pool.allocate('ns/d'), { error: 'Failed to allocate IP for "ns/d": no available IPs' });
  // Release frees it for the next one.
  assert.equal(pool.release('ns/b'), true);
  assert.equal(pool.release('ns/b'), false);
  assert.deepEqual(pool.allocate('ns/d'), { ip: '10.250.1.2' });
});

test('a wanted address (spec.loadBalancerIP or the MetalLB annotation) must be in the pool and free', () => {
  const pool = new AddressPool(['192.168.5.0/29']);
  assert.deepEqual(pool.allocate('ns/a', '192.168.5.4'), { ip: '192.168.5.4' });
  assert.deepEqual(pool.allocate('ns/b', '192.168.5.4'), {
    error: 'Failed to allocate IP for "ns/b": 192.168.5.4 is already in use by "ns/a"',
  });
  assert.deepEqual(pool.allocate('ns/b', '192.168.9.1'), {
    error: 'Failed to allocate IP for "ns/b": 192.168.9.1 is not in the pool',
  });
  assert.deepEqual(pool.allocate('ns/b'), { ip: '192.168.5.1' });
  // Changing the wanted address moves the Service and frees the old one.
  assert.deepEqual(pool.allocate('ns/a', '192.168.5.6'), { ip: '192.168.5.6' });
  assert.deepEqual(pool.allocate('ns/c', '192.168.5.4'), { ip: '192.168.5.4' });

  const svc = (annotations: Record<string, string>, loadBalancerIP?: string): Service => ({
    metadata: { name: 's', annotations },
    spec: { type: 'LoadBalancer', loadBalancerIP },
  });
  assert.equal(requestedAddress(svc({}, '192.168.5.3')), '192.168.5.3');
  assert.equal(requestedAddress(svc({ 'metallb.universe.tf/loadBalancerIPs': 'fd00::1, 192.168.5.2' })), '192.168.5.2');
  assert.equal(requestedAddress(svc({ 'metallb.io/loadBalancerIPs': '192.168.5.5' }, '192.168.5.3')), '192.168.5.5');
  assert.equal(requestedAddress(svc({})), undefined);
});

test('restore keeps the first claim of an address and ignores addresses outside the pool', () => {
  const pool = new AddressPool(['10.9.0.0/29']);
  assert.equal(pool.restore('ns/old', '10.9.0.5'), true);
  assert.equal(pool.restore('ns/new', '10.9.0.5'), false);
  assert.equal(pool.restore('ns/other', '172.16.0.1'), false);
  assert.deepEqual(pool.allocate('ns/old'), { ip: '10.9.0.5' });
  assert.deepEqual(pool.allocate('ns/new'), { ip: '10.9.0.1' });
});

test('invalid pool CIDRs are refused', () => {
  for (const bad of ['10.0.0.0', '10.0.0.0/33', '300.0.0.0/24', 'fd00::/120', '10.0.0.0/24/1'])
    assert.throws(() => parsePoolCIDR(bad), /--lb-address-pool: invalid CIDR/);
  assert.deepEqual(parsePoolCIDR('10.0.0.9/29'), { cidr: '10.0.0.9/29', first: 167772169, last: 167772174 });
});

test('the controller keeps allocations across a restart, frees them on type change, reports exhaustion', async () => {
  const t = await startTestApi();
  const client = inProcessClient(t.api, { fieldManager: 'test' });
  const logger = pino({ level: 'silent' });
  const services = client.resource(R.services).namespace('default');
  const ipOf = async (name: string) => (await services.get(name)).status?.loadBalancer?.ingress?.[0]?.ip as string;
  const run = async () => {
    const informers = new SharedInformerFactory(client, { logger });
    const c = new ServiceLBController({ client, informers, logger, options: { lbAddressPools: ['10.77.0.0/30'] } });
    informers.start();
    await informers.waitForCacheSync();
    c.start();
    return async () => {
      await c.stop();
      await informers.shutdown();
    };
  };
  const lb = (name: string) =>
    services.create({ metadata: { name }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } });
  try {
    let stop = await run();
    // Allocation order differs from name order, so a restart that re-allocated by name would swap them.
    await lb('zz');
    await settles(async () => assert.equal(await ipOf('zz'), '10.77.0.1'));
    await lb('aa');
    await settles(async () => assert.equal(await ipOf('aa'), '10.77.0.2'));
    await stop();

    stop = await run();
    await lb('mm');
    await settles(async () => {
      const events = await client.resource(R.events).namespace('default').list();
      const e = events.items.find((x) => x.involvedObject?.name === 'mm' && x.reason === 'AllocationFailed');
      assert.equal(e?.type, 'Warning');
      assert.equal(e?.message, 'Failed to allocate IP for "default/mm": no available IPs');
    });
    assert.equal(await ipOf('zz'), '10.77.0.1');
    assert.equal(await ipOf('aa'), '10.77.0.2');
    assert.equal(await ipOf('mm'), undefined);

    // zz stops being a LoadBalancer: its address goes to the waiting Service.
    await services.patch('zz', 'merge', { spec: { type: 'ClusterIP', ports: [{ port: 80, nodePort: null }] } });
    await settles(async () => assert.equal(await ipOf('mm'), '10.77.0.1'));
    assert.equal(await ipOf('zz'), undefined);
    await stop();
  } finally {
    await t.stop();
  }
});

const node = (name: string, ready = 'True', address = ''): Node => ({
  metadata: { name },
  status: {
    conditions: [{ type: 'Ready', status: ready }],
    addresses: address ? [{ type: 'InternalIP', address }] : [],
  },
});
const slice = (svc: string, eps: [string, boolean][]): EndpointSlice => ({
  metadata: { name: `${svc}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
  addressType: 'IPv4',
  endpoints: eps.map(([nodeName, ready], i) => ({ addresses: [`10.42.0.${i + 2}`], nodeName, conditions: { ready } })),
});
const lbService = (name: string, ip: string, loadBalancerClass?: string): Service => ({
  metadata: { name, namespace: 'default' },
  spec: { type: 'LoadBalancer', loadBalancerClass },
  status: { loadBalancer: { ingress: [{ ip }] } },
});

test('election: deterministic, independent of candidate order, smallest hash of node and Service', () => {
  const nodes = ['n1', 'n2', 'n3', 'n4'];
  const winner = electAnnouncer('default/web', nodes);
  assert.equal(electAnnouncer('default/web', [...nodes].reverse()), winner);
  assert.equal(electAnnouncer('default/web', []), undefined);
  // Spread: over many Services more than one node wins.
  const winners = new Set(Array.from({ length: 20 }, (_, i) => electAnnouncer(`default/s${i}`, nodes)));
  assert.ok(winners.size > 1);
  // Without the winner the choice falls to another node.
  const rest = nodes.filter((n) => n !== winner);
  assert.notEqual(electAnnouncer('default/web', rest), winner);
  assert.ok(rest.includes(electAnnouncer('default/web', rest)!));
});

test('announcements: only Ready nodes with ready endpoints; node addresses and other classes are not announced', () => {
  const nodes = [node('n1', 'True', '10.0.0.1'), node('n2', 'True', '10.0.0.2'), node('n3', 'False', '10.0.0.3')];
  const services = [
    lbService('web', '10.250.0.1'),
    lbService('onenode', '10.250.0.2'),
    lbService('nodeaddr', '10.0.0.1'),
    lbService('other', '10.250.0.3', 'example.com/other'),
    lbService('noeps', '10.250.0.4'),
  ];
  const slices = [
    slice('web', [
      ['n1', true],
      ['n2', true],
      ['n3', true],
    ]),
    slice('onenode', [
      ['n1', false],
      ['n2', true],
      ['n3', true],
    ]),
    slice('nodeaddr', [['n1', true]]),
    slice('other', [['n1', true]]),
  ];
  const got = announcements(services, slices, nodes);
  assert.deepEqual([...got.keys()].sort(), ['10.250.0.1', '10.250.0.2']);
  assert.equal(got.get('10.250.0.1'), electAnnouncer('default/web', ['n1', 'n2']));
  assert.equal(got.get('10.250.0.2'), 'n2');
  // The winner goes NotReady: the other node takes the address.
  const winner = got.get('10.250.0.1')!;
  const after = announcements(
    services,
    slices,
    nodes.map((n) => (n.metadata?.name === winner ? node(winner, 'False', n.status!.addresses![0].address) : n)),
  );
  assert.equal(after.get('10.250.0.1'), winner === 'n1' ? 'n2' : 'n1');
});
