// Wire compatibility of the streaming and proxy paths with current clients, on real containers
// (containerd, whose streaming server serves SPDY and the plain WebSocket port-forward itself):
//   - port-forward with kubectl 1.31/1.33 (SPDY tunnelled in a WebSocket, translated by the API
//     server), 1.29 (SPDY) and the Python client (WebSocket v4 channels, passed through);
//   - exec with kubectl 1.30–1.33 (WebSocket v5 first, SPDY when the runtime refuses it);
//   - services/proxy, pods/proxy and nodes/proxy via `kubectl get --raw` and `kubectl proxy`,
//     with upstream's 404 and 503.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import YAML from 'yaml';
import { TEST_IMAGES } from '../../src/agent/images/testimages.js';
import { importTestImages, realContainersUnavailable, startCluster, until, type Cluster } from './harness.js';
import { rawClient } from './rawclient.js';
import { portForwardPages, pythonClientUnavailable, pythonPortForward, versionedKubectl } from './streams.js';

const unavailable = realContainersUnavailable();
let c: Cluster;
let ready: string | false = 'the cluster did not start';
let node = '';

before(async () => {
  if (unavailable) return;
  c = await startCluster({ agent: true });
  const up = await until(
    'a Ready node',
    async () => {
      const r = await c.kubectl([
        'get',
        'nodes',
        '-o',
        'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
      ]);
      return r.stdout.includes('True');
    },
    60_000,
    1000,
  ).catch(() => false);
  if (!up) {
    ready = 'the node agent did not report a Ready node within 60 s (containerd not usable here?)';
    return;
  }
  node = await c.k(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}']);
  await importTestImages(c, ['busybox', 'httpd']);
  const spec = (image: string, extra: object = {}) => ({
    terminationGracePeriodSeconds: 1,
    containers: [{ name: 'c', image, imagePullPolicy: 'IfNotPresent', ...extra }],
  });
  const docs = [
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: spec(TEST_IMAGES.httpd, { ports: [{ containerPort: 8080 }] }),
    },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'shell' },
      spec: spec(TEST_IMAGES.busybox, { command: ['sleep', '3600'] }),
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'empty' },
      spec: { selector: { app: 'nothing' }, ports: [{ port: 80 }] },
    },
  ];
  await c.k(['apply', '-f', '-'], docs.map((d) => YAML.stringify(d)).join('---\n'));
  await c.k(['wait', '--for=condition=Ready', 'pod/web', 'pod/shell', '--timeout=90s']);
  await until(
    'the endpoints of web and empty',
    async () => {
      const r = await c.kubectl([
        'get',
        'endpoints',
        'web',
        'empty',
        '-o',
        'jsonpath={.items[0].subsets[0].addresses[0].ip}',
      ]);
      return r.code === 0 && r.stdout ? true : undefined;
    },
    30_000,
    300,
  );
  ready = false;
});

after(async () => {
  await c?.cleanup();
});

const skip = () => unavailable ?? ready;

for (const version of ['1.33', '1.31', '1.29']) {
  const bin = versionedKubectl(version);
  test(
    `kubectl ${version}: port-forward to an httpd pod returns its page`,
    { timeout: 90_000, skip: !bin && `no kubectl.${version}` },
    async (t) => {
      if (skip()) return t.skip(String(skip()));
      const r = await portForwardPages(c, bin!, 'pod/web', 8080, { extra: ['-v=4'] });
      for (const page of r.pages) assert.match(page, /It works!/, r.stderr);
      assert.doesNotMatch(r.stderr, /fallback/i);
      if (version !== '1.29') assert.match(r.stderr, /negotiated protocol: portforward\.k8s\.io/);
    },
  );
}

test(
  "python3-kubernetes: kubernetes.stream.portforward returns the pod's HTTP answer",
  { timeout: 90_000, skip: pythonClientUnavailable() },
  async (t) => {
    if (skip()) return t.skip(String(skip()));
    for (let i = 0; i < 2; i++) {
      const r = await pythonPortForward(c, 'default', 'web', 8080);
      assert.match(r.answer, /^HTTP\/1\.[01] 200 OK\r\n/);
      assert.match(r.answer, /It works!/);
      assert.equal(r.error, null);
    }
  },
);

for (const version of ['1.30', '1.31', '1.32', '1.33']) {
  const bin = versionedKubectl(version);
  test(
    `kubectl ${version}: exec and exec -i`,
    { timeout: 60_000, skip: !bin && `no kubectl.${version}` },
    async (t) => {
      if (skip()) return t.skip(String(skip()));
      let r = await c.kubectl(['exec', 'shell', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { bin });
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, 'out\n');
      assert.match(r.stderr, /^err$/m);
      r = await c.kubectl(['exec', '-i', 'shell', '--', 'tr', 'a-z', 'A-Z'], { bin, input: 'piped\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'PIPED\n');
    },
  );
}

test('services/proxy, pods/proxy and nodes/proxy via kubectl get --raw', { timeout: 60_000 }, async (t) => {
  if (skip()) return t.skip(String(skip()));
  for (const path of [
    'services/web:8080',
    'services/web:http',
    'services/http:web:8080',
    'pods/web:8080',
    'pods/web',
  ]) {
    assert.match(await c.k(['get', '--raw', `/api/v1/namespaces/default/${path}/proxy/`]), /It works!/, path);
  }
  assert.equal(await c.k(['get', '--raw', `/api/v1/nodes/${node}/proxy/healthz`]), 'ok');
  const raw = rawClient(c.kubeconfig);
  try {
    const unknown = await raw.json('GET', '/api/v1/namespaces/default/services/nope:8080/proxy/');
    assert.deepEqual(
      [unknown.status, unknown.body.reason, unknown.body.message],
      [404, 'NotFound', 'services "nope" not found'],
    );
    const empty = await raw.json('GET', '/api/v1/namespaces/default/services/empty/proxy/');
    assert.deepEqual(
      [empty.status, empty.body.reason, empty.body.message],
      [503, 'ServiceUnavailable', 'no endpoints available for service "empty"'],
    );
  } finally {
    raw.agent.destroy();
  }
});

test('kubectl proxy, then curl through it to the service and the pod', { timeout: 60_000 }, async (t) => {
  if (skip()) return t.skip(String(skip()));
  const proc = spawn('kubectl', ['--kubeconfig', c.kubeconfig, 'proxy', '--port=0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d) => (out += d));
  try {
    const port = await until(
      'kubectl proxy to listen',
      () => /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out)?.[1],
      20_000,
      100,
    );
    for (const path of ['services/web:8080', 'pods/web:8080']) {
      const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
        const curl = spawn(
          'curl',
          ['-sS', '--max-time', '20', `http://127.0.0.1:${port}/api/v1/namespaces/default/${path}/proxy/`],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        curl.stdout.on('data', (d) => (stdout += d));
        curl.on('exit', (code) => resolve({ code: code ?? 1, stdout }));
      });
      assert.equal(r.code, 0);
      assert.match(r.stdout, /It works!/, path);
    }
  } finally {
    proc.kill('SIGTERM');
  }
});
