// The process runtime (for machines without containerd or root): the same busybox HTTP
// Deployment runs as host processes, and the node says plainly that it is not isolated.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { importTestImages, startCluster, until, type Cluster, waitForReadyNode } from './harness.js';

let c: Cluster;
const PORT = 20000 + Math.floor(Math.random() * 20000);

before(async () => {
  c = await startCluster({ agent: true, args: ['--runtime', 'process'] });
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd']);
});

after(async () => {
  if (c) await c.cleanup();
});

test(
  'the process runtime runs the busybox HTTP Deployment; the node reports it is not isolated',
  { timeout: 120_000 },
  async () => {
    const node = JSON.parse(await c.k(['get', 'nodes', '-o', 'json'])).items[0];
    assert.equal(node.metadata.labels['k8ts.io/runtime'], 'process');
    const isolated = node.status.conditions.find((x: any) => x.type === 'ContainersIsolated');
    assert.equal(isolated?.status, 'False');
    assert.match(
      await c.k(['describe', 'node', node.metadata.name]),
      /ContainersIsolated\s+False .*ProcessRuntime\s+containers run as host processes/,
    );

    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            terminationGracePeriodSeconds: 2,
            // Host processes share the host's ports: this one listens where no other test does.
            containers: [
              {
                name: 'httpd',
                image: 'k8ts.local/httpd:1.35',
                args: ['httpd', '-f', '-v', '-p', String(PORT), '-h', '/www'],
                readinessProbe: { httpGet: { path: '/', port: PORT }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    };
    await c.k(['apply', '-f', '-'], YAML.stringify(deployment));
    await c.k(['rollout', 'status', 'deployment/web', '--timeout=90s']);
    const ip = (await c.k(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={.items[0].status.podIP}'])).trim();
    assert.equal(ip, node.status.addresses.find((a: any) => a.type === 'InternalIP').address);
    assert.match(await fetch(`http://127.0.0.1:${PORT}/`).then((r) => r.text()), /It works!/);
    await until('access logged', async () => /response:200/.test(await c.k(['logs', 'deployment/web'])), 20_000, 500);
  },
);
