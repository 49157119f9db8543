// Cluster DNS for the process runtime's pods, which share the host's network (no pod bridge, so
// no gateway listener): the agent runs its DNS listener on a loopback address of the cluster's
// own and writes it into the pods' resolv.conf. A pod resolves a Service's full name (busybox's
// nslookup) and reaches it by its short name through the search path (nc, the libc resolver)
// and the service proxy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import { importTestImages, startCluster, until, type Cluster, waitForReadyNode } from './harness.js';

let c: Cluster;
// Pods share the host's ports here: the web pod listens where no other test does.
const PORT = 20000 + Math.floor(Math.random() * 20000);
const skip = process.getuid?.() !== 0 ? 'binding port 53 on loopback needs root' : false;

before(async () => {
  if (skip) return;
  c = await startCluster({ agent: true, args: ['--runtime', 'process'] });
  await waitForReadyNode(c);
  await importTestImages(c, ['busybox']);
  const pod = (name: string, args: string[]) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: 'k8ts.local/busybox:1.35', command: ['sh', '-c'], args }],
    },
  });
  const docs = [
    pod('client', ['sleep 3600']),
    pod('web', [
      `mkdir -p /tmp/www && echo hello-by-name > /tmp/www/index.html && exec httpd -f -p ${PORT} -h /tmp/www`,
    ]),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 8080, targetPort: PORT }] },
    },
  ];
  await c.k(['apply', '-f', '-'], docs.map((d) => YAML.stringify(d)).join('---\n'));
  await c.k(['wait', '--for=condition=Ready', 'pod/client', 'pod/web', '--timeout=180s']);
});

after(async () => {
  if (c) await c.cleanup();
});

test(
  "a process-runtime pod's resolv.conf names the node's loopback DNS listener and the search path",
  { skip, timeout: 120_000 },
  async () => {
    const resolv = await c.k(['exec', 'client', '--', 'cat', '/etc/resolv.conf']);
    assert.match(resolv, /^nameserver 127\.(\d+)\.(\d+)\.(\d+)$/m, resolv);
    assert.doesNotMatch(resolv, /^nameserver 127\.0\./m, 'not the host resolver (127.0.0.53) nor 127.0.0.1');
    assert.match(resolv, /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local/m, resolv);
    assert.match(resolv, /^options ndots:5$/m, resolv);
  },
);

test(
  'web.default.svc.cluster.local resolves to the ClusterIP in a process-runtime pod, and `web` answers by name',
  { skip, timeout: 180_000 },
  async () => {
    const clusterIP = (await c.k(['get', 'svc', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).trim();
    const lookup = await until(
      'nslookup web.default.svc.cluster.local answers the ClusterIP',
      async () => {
        const r = await c.kubectl(['exec', 'client', '--', 'nslookup', 'web.default.svc.cluster.local']);
        if (!r.stdout.includes(clusterIP)) throw new Error(`${r.stdout}${r.stderr}`);
        return r.stdout;
      },
      { timeoutMs: 90_000, stepMs: 1_000 },
    );
    assert.match(lookup, /Name:\s+web\.default\.svc\.cluster\.local/);
    // The short name through the search path (busybox's nc resolves with libc, which walks it with
    // ndots:5), then the service proxy to the pod. (busybox wget crashes in a root without NSS libraries.)
    const get = `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 5`;
    const page = await until(
      'nc web 8080 gets the page',
      async () => {
        const r = await c.kubectl(['exec', 'client', '--', 'sh', '-c', `${get} web 8080`]);
        if (!r.stdout.includes('hello-by-name')) throw new Error(`${r.stdout}${r.stderr}`);
        return r.stdout;
      },
      {
        timeoutMs: 90_000,
        stepMs: 1_000,
        diag: async () => {
          const r = await c.kubectl(['exec', 'client', '--', 'sh', '-c', `${get} ${clusterIP} 8080`]);
          return `through the ClusterIP: ${r.stdout}${r.stderr}`;
        },
      },
    );
    assert.match(page, /hello-by-name/);
  },
);
