// Wire compatibility of the streaming and proxy paths with current clients, on real containers
// (containerd, whose streaming server serves SPDY and the plain WebSocket port-forward itself):
//   - port-forward with kubectl 1.31/1.33 (SPDY tunnelled in a WebSocket, translated by the API
//     server), 1.29 (SPDY) and the Python client (WebSocket v4 channels, passed through);
//   - exec and attach with kubectl 1.30–1.33 (WebSocket v5, translated to SPDY towards the node by
//     the API server: no fallback) and 1.29 (SPDY), and with the Python client (WebSocket v4,
//     translated as well): output channels, stdin, exit codes, a resized terminal, attach;
//   - services/proxy, pods/proxy and nodes/proxy via `kubectl get --raw` and `kubectl proxy`,
//     with upstream's 404 and 503.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import YAML from 'yaml';
import { TEST_IMAGES } from '../../src/agent/images/testimages.js';
import {
  NO_READY_NODE,
  hasReadyNode,
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
  type Cluster,
} from './harness.js';
import { rawClient } from './rawclient.js';
import {
  portForwardPages,
  pythonClientUnavailable,
  pythonExec,
  pythonPortForward,
  streamKubectl,
  versionedKubectl,
} from './streams.js';

const unavailable = realContainersUnavailable();
let c: Cluster;
let ready: string | false = 'the cluster did not start';
let node = '';

before(async () => {
  if (unavailable) return;
  c = await startCluster({ agent: true });
  if (!(await hasReadyNode(c))) {
    ready = NO_READY_NODE;
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
      kind: 'Pod',
      metadata: { name: 'reader' },
      spec: spec(TEST_IMAGES.busybox, {
        command: ['sh', '-c', 'while read l; do echo "got $l"; done'],
        stdin: true,
      }),
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
  await c.k(['wait', '--for=condition=Ready', 'pod/web', 'pod/shell', 'pod/reader', '--timeout=180s']);
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

/** What kubectl -v=8 says about the exec transport: the WebSocket subprotocol, 101s, fallbacks. */
const protocolLines = (stderr: string) =>
  stderr
    .split('\n')
    .filter((l) => /subprotocol|sec-websocket-protocol|x-stream-protocol-version|fallback|101 Switching/i.test(l))
    .map((l) => l.replace(/^.*\] /, ''));

for (const version of ['1.29', '1.30', '1.31', '1.32', '1.33']) {
  const bin = versionedKubectl(version);
  const websocket = version !== '1.29';
  test(
    `kubectl ${version}: exec and exec -i (${websocket ? 'WebSocket v5, no fallback' : 'SPDY'})`,
    { timeout: 60_000, skip: !bin && `no kubectl.${version}` },
    async (t) => {
      if (skip()) return t.skip(String(skip()));
      let r = await c.kubectl(['exec', 'shell', '-v=8', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3'], { bin });
      assert.equal(r.code, 3, r.stderr);
      assert.equal(r.stdout, 'out\n');
      assert.match(r.stderr, /^err$/m);
      assert.match(r.stderr, /command terminated with exit code 3/);
      const seen = protocolLines(r.stderr);
      t.diagnostic(`kubectl ${version} -v=8: ${seen.join(' | ')}`);
      if (websocket) {
        assert.doesNotMatch(r.stderr, /fallback/i);
        assert.match(r.stderr, /Sec-Websocket-Protocol: v5\.channel\.k8s\.io/i);
      } else assert.match(r.stderr, /X-Stream-Protocol-Version: v4\.channel\.k8s\.io/i);
      r = await c.kubectl(['exec', '-i', 'shell', '--', 'tr', 'a-z', 'A-Z'], { bin, input: 'piped\n' });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'PIPED\n');
    },
  );
}

for (const version of ['1.29', '1.33']) {
  const bin = versionedKubectl(version);
  test(
    `kubectl ${version}: attach -i to a container reading its stdin`,
    { timeout: 60_000, skip: !bin && `no kubectl.${version}` },
    async (t) => {
      if (skip()) return t.skip(String(skip()));
      const a = streamKubectl(c, ['attach', '-i', 'reader', '-v=8'], { bin, maxMs: 40_000, stdin: true });
      try {
        await until(
          'the attach session to be up',
          () => protocolLines(a.err).some((l) => /101 Switching/i.test(l)) || undefined,
          20_000,
          100,
        );
        a.proc.stdin!.write(`hello ${version}\n`);
        await a.waitFor(new RegExp(`got hello ${version.replace('.', '\\.')}`), 20_000);
        if (version !== '1.29') assert.doesNotMatch(a.err, /fallback/i);
      } finally {
        await a.stop();
      }
    },
  );
}

test(
  'python3-kubernetes: exec (output, exit code, stdin, tty resize) and attach over WebSocket v4',
  { timeout: 120_000, skip: pythonClientUnavailable() },
  async (t) => {
    if (skip()) return t.skip(String(skip()));
    const r = await pythonExec(c, 'default', 'shell', 'reader');
    assert.deepEqual(r.exit, { stdout: 'out\n', stderr: 'err\n', code: 3 });
    assert.equal(r.oneshot, 'hello\n');
    assert.deepEqual(r.stdin, { stdout: 'PIPED\n', stderr: '', code: 0 });
    assert.equal(r.tty.code, 0);
    assert.equal(r.tty.stdout.trim(), '33 101');
    assert.equal(r.attach, 'got from python');
  },
);

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
