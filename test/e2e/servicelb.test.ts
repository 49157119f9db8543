// LoadBalancer Services on bare metal (the servicelb controller with the service proxy), real
// containers: a LoadBalancer Service gets the node's address as EXTERNAL-IP and answers there from
// the host, with events as upstream's service controller; allocateLoadBalancerNodePorts=false
// leaves it without NodePorts but still answering; a Service of another loadBalancerClass is left
// alone; turning the Service into a ClusterIP clears the status and the finalizer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import {
  importTestImages,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
  createWebDeployment,
  serviceNetworkingUnavailable,
} from './harness.js';

const skip = serviceNetworkingUnavailable();
let c: Cluster;

function get(url: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

const svcJSON = async (name: string) => JSON.parse(await c.k(['get', 'svc', name, '-o', 'json']));

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true });
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd']);
  await createWebDeployment(c, 1, 'echo lb-ok');
  await c.k(['rollout', 'status', 'deploy/web', '--timeout=120s']);
});

after(async () => {
  if (c) await c.cleanup();
});

test(
  'a LoadBalancer Service gets the node address as EXTERNAL-IP and answers there from the host',
  { skip, timeout: 120_000 },
  async () => {
    // Port 18080: the node address is the host's own, where port 80 may be taken by something else.
    await c.k([
      'expose',
      'deploy',
      'web',
      '--name',
      'web-lb',
      '--type',
      'LoadBalancer',
      '--port',
      '18080',
      '--target-port',
      '8080',
    ]);
    const nodeIP = (
      await c.k(['get', 'nodes', '-o', 'jsonpath={.items[0].status.addresses[?(@.type=="InternalIP")].address}'])
    ).trim();
    const external = await until(
      'an EXTERNAL-IP',
      async () => {
        const row = (await c.k(['get', 'svc', 'web-lb', '--no-headers'])).trim().split(/\s+/);
        return row[3] !== '<pending>' && row[3];
      },
      30_000,
      300,
    );
    assert.equal(external, nodeIP);
    const svc = await svcJSON('web-lb');
    assert.deepEqual(svc.status.loadBalancer.ingress, [{ ip: nodeIP, ipMode: 'VIP' }]);
    assert.ok(svc.metadata.finalizers.includes('service.kubernetes.io/load-balancer-cleanup'));
    assert.ok(svc.spec.ports[0].nodePort > 0, 'allocateLoadBalancerNodePorts defaults to true');
    assert.equal(
      await until('an answer on the load-balancer address', () => get(`http://${external}:18080/`), 20_000),
      'lb-ok',
    );
    const reasons = (
      await c.k([
        'get',
        'events',
        '--field-selector',
        'involvedObject.name=web-lb',
        '-o',
        'jsonpath={.items[*].reason}',
      ])
    ).split(/\s+/);
    assert.ok(
      reasons.includes('EnsuringLoadBalancer') && reasons.includes('EnsuredLoadBalancer'),
      `events: ${reasons.join(' ')}`,
    );

    // Back to ClusterIP: the status and the finalizer go.
    await c.k([
      'patch',
      'svc',
      'web-lb',
      '--type=merge',
      '-p',
      '{"spec":{"type":"ClusterIP","allocateLoadBalancerNodePorts":null,"ports":[{"port":18080,"targetPort":8080,"protocol":"TCP","nodePort":null}]}}',
    ]);
    await until(
      'the load-balancer status cleared',
      async () => {
        const s = await svcJSON('web-lb');
        return (
          !s.status?.loadBalancer?.ingress &&
          !(s.metadata.finalizers ?? []).includes('service.kubernetes.io/load-balancer-cleanup')
        );
      },
      20_000,
      300,
    );
  },
);

test(
  'allocateLoadBalancerNodePorts=false: no NodePort, still answering on the load-balancer address',
  { skip, timeout: 60_000 },
  async () => {
    const svc = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web-nonp' },
      spec: {
        type: 'LoadBalancer',
        allocateLoadBalancerNodePorts: false,
        selector: { app: 'web' },
        ports: [{ port: 18081, targetPort: 8080 }],
      },
    };
    await c.k(['apply', '-f', '-'], JSON.stringify(svc));
    const ip = await until(
      'an ingress address',
      async () => (await svcJSON('web-nonp')).status?.loadBalancer?.ingress?.[0]?.ip,
      30_000,
      300,
    );
    assert.equal((await svcJSON('web-nonp')).spec.ports[0].nodePort, undefined);
    assert.equal(await until('an answer', () => get(`http://${ip}:18081/`), 20_000), 'lb-ok');
  },
);

test('a Service of another loadBalancerClass is left alone', { skip, timeout: 30_000 }, async () => {
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web-other' },
    spec: {
      type: 'LoadBalancer',
      loadBalancerClass: 'example.com/other',
      selector: { app: 'web' },
      ports: [{ port: 18082, targetPort: 8080 }],
    },
  };
  await c.k(['apply', '-f', '-'], JSON.stringify(svc));
  // The controller answers the others within a second or two; give this one several.
  await new Promise((r) => setTimeout(r, 4_000));
  const s = await svcJSON('web-other');
  assert.equal(s.status?.loadBalancer?.ingress, undefined);
  assert.ok(!(s.metadata.finalizers ?? []).includes('service.kubernetes.io/load-balancer-cleanup'));
});
