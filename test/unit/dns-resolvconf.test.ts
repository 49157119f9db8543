// Pods' resolv.conf as the kubelet builds it (dnsPolicy, dnsConfig merging, limits), the
// --cluster-dns default, and the kube-dns endpoints from the nodes' DNS listeners.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Node } from 'kubernetes-types/core/v1.js';
import { podDNS, MAX_DNS_SEARCH_LIST_CHARS } from '../../src/agent/pods/sandbox.js';
import { clusterDNSFromFlags } from '../../src/cli/agentoptions.js';
import { listeners, tenthAddress } from '../../src/dns/kubedns.js';
import { loopbackListenerAddress } from '../../src/dns/service.js';
import { bridgeGateway, conflictingDevices } from '../../src/agent/network/bridge.js';

const dns = {
  clusterDNS: ['10.43.0.10'],
  clusterDomain: 'cluster.local',
  hostResolv: { servers: ['10.1.1.1', '10.1.1.2'], searches: ['corp.example'], options: ['edns0'] },
};
const pod = (spec: any) => ({ metadata: { name: 'p', namespace: 'team' }, spec });

test('ClusterFirst: the cluster DNS, the namespace search path and the host search domains, ndots:5', () => {
  assert.deepEqual(podDNS(pod({}), dns), {
    servers: ['10.43.0.10'],
    searches: ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example'],
    options: ['ndots:5'],
  });
});

test('ClusterFirst with hostNetwork falls back to Default; ClusterFirstWithHostNet does not', () => {
  assert.deepEqual(podDNS(pod({ hostNetwork: true }), dns), {
    servers: ['10.1.1.1', '10.1.1.2'],
    searches: ['corp.example'],
    options: ['edns0'],
  });
  assert.deepEqual(podDNS(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), dns).servers, [
    '10.43.0.10',
  ]);
});

test('None takes dnsConfig only; dnsConfig merges into the others, options by name', () => {
  assert.deepEqual(
    podDNS(
      pod({
        dnsPolicy: 'None',
        dnsConfig: {
          nameservers: ['1.1.1.1'],
          searches: ['a.example'],
          options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }],
        },
      }),
      dns,
    ),
    {
      servers: ['1.1.1.1'],
      searches: ['a.example'],
      options: ['ndots:2', 'edns0'],
    },
  );
  const merged = podDNS(
    pod({
      dnsConfig: {
        nameservers: ['10.43.0.10', '9.9.9.9'],
        searches: ['cluster.local', 'b.example'],
        options: [
          { name: 'ndots', value: '1' },
          { name: 'timeout', value: '2' },
        ],
      },
    }),
    dns,
  );
  assert.deepEqual(merged, {
    servers: ['10.43.0.10', '9.9.9.9'],
    searches: ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'b.example'],
    options: ['ndots:1', 'timeout:2'],
  });
});

test('limits: 3 nameservers, 32 search domains, 2048 characters', () => {
  const many = podDNS(
    pod({
      dnsConfig: {
        nameservers: ['1.1.1.1', '2.2.2.2', '3.3.3.3'],
        searches: Array.from({ length: 40 }, (_, i) => `s${i}.example`),
      },
    }),
    dns,
  );
  assert.deepEqual(many.servers, ['10.43.0.10', '1.1.1.1', '2.2.2.2']);
  assert.equal(many.searches.length, 32);
  const long = podDNS(
    pod({
      dnsPolicy: 'None',
      dnsConfig: {
        nameservers: ['1.1.1.1'],
        searches: Array.from({ length: 10 }, (_, i) => `${String(i).repeat(250)}.example`),
      },
    }),
    dns,
  );
  assert.ok(long.searches.join(' ').length <= MAX_DNS_SEARCH_LIST_CHARS);
  assert.equal(long.searches.length, 7);
});

test('--cluster-dns defaults to the 10th address of the service CIDR', () => {
  assert.equal(tenthAddress('10.43.0.0/16'), '10.43.0.10');
  assert.equal(tenthAddress('10.96.0.0/12'), '10.96.0.10');
  assert.equal(tenthAddress('fd00:43::/112'), 'fd00:43::a');
  assert.deepEqual(clusterDNSFromFlags({}), ['10.43.0.10']);
  assert.deepEqual(clusterDNSFromFlags({ serviceCidr: '10.100.0.0/16' }), ['10.100.0.10']);
  assert.deepEqual(clusterDNSFromFlags({ clusterDns: ['10.0.0.53'] }), ['10.0.0.53']);
  assert.throws(() => clusterDNSFromFlags({ clusterDns: ['dns.example'] }), /--cluster-dns: not an IP address/);
});

test('kube-dns endpoints: every node announcing a listener, ready with the node', () => {
  const node = (name: string, ip: string | undefined, ready: string): Node => ({
    metadata: { name, annotations: ip ? { 'k8ts.io/dns-listener': ip } : {} },
    status: { conditions: [{ type: 'Ready', status: ready }] },
  });
  assert.deepEqual(
    listeners([
      node('b', '10.42.1.1', 'False'),
      node('a', '10.42.0.1', 'True'),
      node('c', undefined, 'True'),
      node('d', 'junk', 'True'),
    ]),
    [
      { node: 'a', ip: '10.42.0.1', ready: true },
      { node: 'b', ip: '10.42.1.1', ready: false },
    ],
  );
  assert.deepEqual(bridgeGateway('10.42.7.0/24'), { gateway: '10.42.7.1', prefix: 24 });
  assert.deepEqual(bridgeGateway('10.42.255.0/24'), { gateway: '10.42.255.1', prefix: 24 });
});

test('pod range conflicts: the other devices with a connected route in the range, from `ip -o route show`', () => {
  // As `ip -o -4 route show table all root 10.208.0.0/24` printed with a bridge left by a cluster
  // nobody cleaned up next to this node's own one.
  const shown = [
    '10.208.0.0/24 dev k8ts799f57 proto kernel scope link src 10.208.0.1 linkdown ',
    '10.208.0.0/24 dev k8ts34dd84 proto kernel scope link src 10.208.0.1 ',
    'local 10.208.0.1 dev k8ts799f57 table local proto kernel scope host src 10.208.0.1 ',
    'local 10.208.0.1 dev k8ts34dd84 table local proto kernel scope host src 10.208.0.1 ',
    'broadcast 10.208.0.255 dev k8ts799f57 table local proto kernel scope link src 10.208.0.1 linkdown ',
    '10.208.0.128/25 via 192.0.2.9 dev eth0 ',
    'local 10.208.0.0 dev flannel.1 table local proto kernel scope host src 10.208.0.0 ',
    '',
  ].join('\n');
  // The route through a gateway is a route reconciler's to remove; flannel.1's address (the node's own
  // VXLAN device) and the leftover's address take no replies: only its connected route counts.
  assert.deepEqual(conflictingDevices(shown, 'k8ts34dd84'), ['k8ts799f57']);
  assert.deepEqual(
    conflictingDevices(
      shown
        .split('\n')
        .filter((l) => l.includes('k8ts34dd84'))
        .join('\n'),
      'k8ts34dd84',
    ),
    [],
  );
  const addressesOnly = shown
    .split('\n')
    .filter((l) => !l.startsWith('10.208.0.0/24 dev k8ts799f57'))
    .join('\n');
  assert.deepEqual(conflictingDevices(addressesOnly, 'k8ts34dd84'), []);
  assert.deepEqual(conflictingDevices('', 'k8ts34dd84'), []);
});

test("the process runtime's loopback DNS listener: one address per data dir, clear of 127.0.0.0/16", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const a = loopbackListenerAddress(`k8ts${i.toString(16).padStart(6, '0')}`);
    const [o0, o1, o2, o3] = a.split('.').map(Number);
    assert.equal(o0, 127);
    assert.ok(o1 >= 64 && o1 < 192, a);
    assert.ok(o2 >= 0 && o2 < 256 && o3 >= 1 && o3 < 255, a);
    seen.add(a);
  }
  assert.ok(seen.size > 195, 'different data dirs get different addresses');
  assert.equal(loopbackListenerAddress('k8ts0'), loopbackListenerAddress('k8ts0'));
});
