// The servicelb controller's choices: which Services it serves and which node addresses it publishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node, Service } from 'kubernetes-types/core/v1.js';
import { nodeIngressAddresses } from '../../src/controllers/servicelb/controller.js';
import { SERVICELB_CLASS, wantsLoadBalancer } from '../../src/api/helpers/loadbalancer.js';

const node = (name: string, ready: string, addresses: [string, string][], unschedulable = false): Node => ({
  metadata: { name },
  spec: { unschedulable },
  status: {
    conditions: [{ type: 'Ready', status: ready }],
    addresses: addresses.map(([type, address]) => ({ type, address })),
  },
});

test('ingress addresses: ExternalIPs of Ready nodes, else their InternalIPs; never NotReady or cordoned nodes', () => {
  const nodes = [
    node('a', 'True', [
      ['InternalIP', '10.0.0.2'],
      ['Hostname', 'a'],
    ]),
    node('b', 'True', [
      ['InternalIP', '10.0.0.3'],
      ['ExternalIP', '203.0.113.7'],
    ]),
    node('c', 'False', [['InternalIP', '10.0.0.4']]),
    node('d', 'True', [['InternalIP', '10.0.0.5']], true),
    node('e', 'True', [['InternalIP', 'fd00::5']]),
  ];
  assert.deepEqual(nodeIngressAddresses(nodes), ['10.0.0.2', '203.0.113.7']);
});

test('only LoadBalancer Services without a class or of ours, not being deleted', () => {
  const svc = (spec: Service['spec'], deleting = false): Service => ({
    metadata: { name: 's', deletionTimestamp: deleting ? '2026-01-01T00:00:00Z' : undefined },
    spec,
  });
  assert.equal(wantsLoadBalancer(svc({ type: 'LoadBalancer' })), true);
  assert.equal(wantsLoadBalancer(svc({ type: 'LoadBalancer', loadBalancerClass: SERVICELB_CLASS })), true);
  assert.equal(wantsLoadBalancer(svc({ type: 'LoadBalancer', loadBalancerClass: 'example.com/other' })), false);
  assert.equal(wantsLoadBalancer(svc({ type: 'NodePort' })), false);
  assert.equal(wantsLoadBalancer(svc({ type: 'LoadBalancer' }, true)), false);
});
