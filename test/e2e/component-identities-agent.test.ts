// The node agent inside `k8ts server` acts as its node (system:node:NAME in system:nodes, not a
// cluster admin): the Node authorizer lets it read the ConfigMap and Secret its pod uses, and its
// service proxy runs as system:kube-proxy (system:node-proxier). A pod with both runs, its
// Service answers on the ClusterIP from the host, and `kubectl logs` reaches the agent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
  type Cluster,
  waitForReadyNode,
} from './harness.js';

const skip = realContainersUnavailable();
let c: Cluster;

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true });
  await waitForReadyNode(c);
  await importTestImages(c, ['httpd']);
});
after(async () => {
  await c?.cleanup();
});

const manifests = [
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'page' },
    data: { 'index.html': 'hello from a configmap\n' },
  },
  { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'word' }, stringData: { word: 'secret-word' } },
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'ident' },
    spec: {
      selector: { matchLabels: { app: 'ident' } },
      template: {
        metadata: { labels: { app: 'ident' } },
        spec: {
          containers: [
            {
              name: 'web',
              image: 'k8ts.local/httpd:1.35',
              command: ['sh', '-c', "echo $WORD; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait"],
              env: [{ name: 'WORD', valueFrom: { secretKeyRef: { name: 'word', key: 'word' } } }],
              volumeMounts: [{ name: 'page', mountPath: '/www' }],
            },
          ],
          volumes: [{ name: 'page', configMap: { name: 'page' } }],
        },
      },
    },
  },
  {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'ident' },
    spec: { selector: { app: 'ident' }, ports: [{ port: 80, targetPort: 8080 }] },
  },
];

test(
  "a pod using a ConfigMap and a Secret runs on the server's own node; its Service answers through the proxy",
  { skip, timeout: 240_000 },
  async () => {
    await c.k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests }));
    await c.k(['rollout', 'status', 'deployment/ident', '--timeout=150s']);
    const ip = (JSON.parse(await c.k(['get', 'service', 'ident', '-o', 'json'])) as { spec: { clusterIP: string } })
      .spec.clusterIP;
    const page = await until(
      'an answer from the ClusterIP',
      () =>
        fetch(`http://${ip}/`, { signal: AbortSignal.timeout(5_000) })
          .then((r) => r.text())
          .catch(() => undefined),
      60_000,
    );
    assert.equal(page, 'hello from a configmap\n');
    const logs = await until(
      'the pod has logged the secret word',
      () => c.k(['logs', 'deployment/ident']).then((l) => (l.includes('secret-word') ? l : undefined)),
      60_000,
    );
    assert.match(logs, /secret-word/);
  },
);
