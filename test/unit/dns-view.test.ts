// The DNS's slim stores: what slimService/slimSlice keep, and what they share between objects so
// that 1,000 Services take little heap (docs/benchmarks.md, cluster DNS memory).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import type { Stored } from '../../src/client/types.js';
import { canonicalIP, slimService, slimSlice } from '../../src/dns/view.js';

/** As a watch delivers it: parsed from JSON, so no string or object is shared to begin with. */
const arrived = <T>(o: T): Stored<T> => JSON.parse(JSON.stringify(o)) as Stored<T>;

const service = (i: number, clusterIPs?: string[]): Stored<Service> =>
  arrived({
    metadata: {
      name: `svc-${i}`,
      namespace: 'default',
      uid: `uid-${i}`,
      resourceVersion: `${i}`,
      creationTimestamp: '2026-12-06T00:00:00Z',
      labels: { app: `svc-${i}` },
    },
    spec: {
      type: 'ClusterIP',
      clusterIP: `10.43.0.${i}`,
      clusterIPs: clusterIPs ?? [`10.43.0.${i}`],
      selector: { app: `svc-${i}` },
      ports: [{ name: 'http', port: 80, protocol: 'TCP', targetPort: 8080 }],
    },
    status: { loadBalancer: {} },
  });

const slice = (i: number): Stored<EndpointSlice> =>
  arrived({
    metadata: {
      name: `svc-${i}-abcde`,
      namespace: 'default',
      uid: `uid-s${i}`,
      resourceVersion: `${i}`,
      creationTimestamp: '2026-12-06T00:00:00Z',
      labels: { 'kubernetes.io/service-name': `svc-${i}`, 'endpointslice.kubernetes.io/managed-by': 'x' },
    },
    addressType: 'IPv4',
    endpoints: [
      {
        addresses: [`10.42.0.${i}`],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: 'node-1',
        targetRef: { kind: 'Pod', namespace: 'default', name: `pod-${i}`, uid: `uid-p${i}` },
      },
    ],
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
  });

test('slim Services keep what the DNS reads and share repeated values', () => {
  const [a, b] = [slimService(service(1)), slimService(service(2))];
  assert.deepEqual(
    { ...a.metadata },
    {
      name: 'svc-1',
      namespace: 'default',
      resourceVersion: '1',
      annotations: undefined,
      labels: undefined,
      deletionTimestamp: undefined,
    },
  );
  assert.equal(a.spec?.clusterIP, '10.43.0.1');
  assert.equal(a.spec?.clusterIPs, undefined, 'clusterIPs repeating clusterIP is not kept');
  assert.deepEqual(slimService(service(3, ['10.43.0.3', 'fd00::3'])).spec?.clusterIPs, ['10.43.0.3', 'fd00::3']);
  assert.equal(a.spec?.ports, b.spec?.ports, 'one port list for Services with the same ports');
  assert.deepEqual(a.spec?.ports, [{ name: 'http', port: 80, protocol: 'TCP' }]);
  assert.ok(Object.isFrozen(a.spec?.ports), 'shared values are frozen');
});

test('slim EndpointSlices share conditions and port lists; addresses are canonical', () => {
  const [a, b] = [slimSlice(slice(1)), slimSlice(slice(2))];
  assert.deepEqual(a.metadata.labels, { 'kubernetes.io/service-name': 'svc-1' });
  assert.equal(a.ports, b.ports);
  assert.equal(a.endpoints[0].conditions, b.endpoints[0].conditions);
  assert.deepEqual(a.endpoints[0].conditions, { ready: true });
  assert.deepEqual(a.endpoints[0].targetRef, { kind: 'Pod', name: 'pod-1' });
  const odd = slice(3);
  odd.addressType = 'IPv6';
  odd.endpoints[0].addresses = ['FD00:0:0::0003'];
  assert.deepEqual(slimSlice(odd).endpoints[0].addresses, ['fd00::3']);
});

test('canonicalIP returns a canonical address as the same string, and spells the others one way', () => {
  const ip = ['10', '42', '0', '7'].join('.');
  assert.equal(canonicalIP(ip), ip);
  assert.equal(canonicalIP('::ffff:10.42.0.7'), '10.42.0.7');
  assert.equal(canonicalIP('FD00::0001'), 'fd00::1');
  assert.equal(canonicalIP('256.1.1.1'), undefined);
  assert.equal(canonicalIP(''), undefined);
});
