// exec, cp and port-forward with the process runtime, whose streaming server (agent/streaming)
// speaks SPDY and WebSocket itself: the real kubectl, the default one (1.30, WebSocket v5 first)
// and older/newer ones (SPDY), through the API server and the agent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { importTestImages, run, startCluster, until, type Cluster, waitForReadyNode } from './harness.js';
import { portForwardPages, pythonClientUnavailable, pythonPortForward, versionedKubectl } from './streams.js';

let c: Cluster;
const PORT = 20000 + Math.floor(Math.random() * 20000);
const KUBECTLS = [
  'kubectl',
  '/usr/lib/google-cloud-sdk/bin/kubectl.1.27',
  '/usr/lib/google-cloud-sdk/bin/kubectl.1.33',
].filter((b) => b === 'kubectl' || existsSync(b));
const tmp = mkdtempSync(join(tmpdir(), 'k8ts-pstream-'));

before(async () => {
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
    pod('shell', ['sleep 3600']),
    // Pods share the host's network here: the server listens on a port no other test uses.
    pod('web', [
      `mkdir -p /tmp/www && echo hello-from-the-pod > /tmp/www/index.html && exec httpd -f -p ${PORT} -h /tmp/www`,
    ]),
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 8080, targetPort: PORT }] },
    },
    // Attach target: echoes its stdin, which closes when the first attached session's does.
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'att' },
      spec: {
        restartPolicy: 'Never',
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: 'k8ts.local/busybox:1.35',
            stdin: true,
            stdinOnce: true,
            command: ['sh', '-c', 'while read l; do echo "echo:$l"; done; echo bye; exit 5'],
          },
        ],
      },
    },
  ];
  await c.k(['apply', '-f', '-'], docs.map((d) => YAML.stringify(d)).join('---\n'));
  await c.k(['wait', '--for=condition=Ready', 'pod/shell', 'pod/web', 'pod/att', '--timeout=90s']);
});

after(async () => {
  if (c) await c.cleanup();
  rmSync(tmp, { recursive: true, force: true });
});

for (const bin of KUBECTLS) {
  const v = bin === 'kubectl' ? 'default kubectl' : bin.split('/').pop();
  test(`${v}: exec, exec -i with piped stdin, exit codes`, { timeout: 90_000 }, async () => {
    let r = await c.kubectl(['exec', 'shell', '--', 'sh', '-c', 'echo out; echo err >&2'], { bin });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'out\n');
    assert.match(r.stderr, /^err$/m);

    r = await c.kubectl(['exec', '-i', 'shell', '--', 'sh', '-c', 'tr a-z A-Z; echo done'], {
      bin,
      input: 'piped input\nline two\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'PIPED INPUT\nLINE TWO\ndone\n');

    r = await c.kubectl(['exec', 'shell', '--', 'sh', '-c', 'exit 3'], { bin });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /command terminated with exit code 3/);

    // The container's filesystem and environment, not the host's.
    r = await c.kubectl(['exec', 'shell', '-c', 'main', '--', 'sh', '-c', 'echo $HOSTNAME; ls /bin/busybox'], { bin });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'shell\n/bin/busybox\n');

    // A larger output arrives whole.
    r = await c.kubectl(
      ['exec', 'shell', '--', 'sh', '-c', 'i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done'],
      { bin },
    );
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 20000);
    assert.equal(lines[19999], 'line-19999');
  });
}

test(
  "exec -it: a terminal (from script(1)) of the client's size, exit code kept",
  { timeout: 60_000, skip: !existsSync('/usr/bin/script') && 'needs util-linux script' },
  async () => {
    for (const bin of KUBECTLS.slice(0, 2)) {
      // The client's size arrives on the resize stream after the process starts; on a loaded
      // machine it can take longer than the first second (stty then fails): ask again, up to 10 s.
      const size =
        'i=0; until s=$(stty size 2>&1) && [ "$s" != "0 0" ] || [ $i -ge 20 ]; do sleep 0.5; i=$((i+1)); done; echo "$s"';
      const cmd = `stty cols 100 rows 30; ${bin} --kubeconfig ${c.kubeconfig} exec -it shell -- sh -c 'sleep 1; tty; ${size}; exit 4'`;
      const r = await run('script', ['-qec', cmd, '/dev/null'], { timeoutMs: 30_000 });
      assert.equal(r.code, 4, r.stdout + r.stderr);
      assert.match(r.stdout, /^\/dev\/pts\/\d+\r\n30 100\r\n/);
    }
  },
);

test(
  "attach -i: the main process's stdin and output; stdinOnce closes it after the session",
  { timeout: 60_000 },
  async () => {
    const r = await c.kubectl(['attach', '-i', 'att'], { input: 'one\ntwo\n', timeoutMs: 30_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'echo:one\necho:two\nbye\n');
    await until(
      'att to end with exit code 5',
      async () =>
        (await c.k([
          'get',
          'pod',
          'att',
          '-o',
          'jsonpath={.status.containerStatuses[0].state.terminated.exitCode}',
        ])) === '5',
      20_000,
      300,
    );
  },
);

test('kubectl cp into and out of a pod', { timeout: 90_000 }, async () => {
  const content = Array.from({ length: 2000 }, (_, i) => `row ${i} ${'x'.repeat(i % 50)}`).join('\n') + '\n';
  const local = join(tmp, 'upload.txt');
  writeFileSync(local, content);
  let r = await c.kubectl(['cp', local, 'shell:/tmp/upload.txt']);
  assert.equal(r.code, 0, r.stderr);
  r = await c.kubectl(['exec', 'shell', '--', 'md5sum', '/tmp/upload.txt']);
  assert.equal(r.code, 0, r.stderr);
  const { createHash } = await import('node:crypto');
  assert.equal(r.stdout.split(/\s+/)[0], createHash('md5').update(content).digest('hex'));
  const back = join(tmp, 'download.txt');
  r = await c.kubectl(['cp', 'shell:/tmp/upload.txt', back]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(back, 'utf8'), content);
});

for (const bin of KUBECTLS.slice(0, 2)) {
  const v = bin === 'kubectl' ? 'default kubectl' : bin.split('/').pop();
  test(`${v}: port-forward to a pod's port`, { timeout: 60_000 }, async () => {
    const pf = spawn(bin, ['--kubeconfig', c.kubeconfig, 'port-forward', 'pod/web', `:${PORT}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    pf.stdout.on('data', (d) => (out += d));
    pf.stderr.on('data', (d) => (err += d));
    try {
      const local = await until(
        'port-forward to listen',
        () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out)?.[1],
        30_000,
        100,
      );
      for (let i = 0; i < 3; i++) {
        const body = await fetch(`http://127.0.0.1:${local}/`, { headers: { connection: 'close' } }).then((res) =>
          res.text(),
        );
        assert.equal(body, 'hello-from-the-pod\n', err);
      }
    } finally {
      pf.kill('SIGTERM');
    }
  });
}

// kubectl >= 1.31 tunnels port-forward's SPDY through a WebSocket (no fallback to plain SPDY
// needed: its dialer would say so at -v=4); 1.29 speaks SPDY; the Python client the plain
// WebSocket channel protocol.
for (const version of ['1.33', '1.31', '1.29']) {
  const bin = versionedKubectl(version);
  test(
    `kubectl ${version}: port-forward to a pod's port`,
    { timeout: 90_000, skip: !bin && `no kubectl.${version}` },
    async () => {
      const r = await portForwardPages(c, bin!, 'pod/web', PORT, { extra: ['-v=4'] });
      assert.deepEqual(r.pages, ['hello-from-the-pod\n', 'hello-from-the-pod\n'], r.stderr);
      assert.doesNotMatch(r.stderr, /fallback/i);
      // kubectl's tunneling dialer logs the protocol negotiated inside the WebSocket.
      if (version !== '1.29') assert.match(r.stderr, /negotiated protocol: portforward\.k8s\.io/);
    },
  );
}

test(
  "python3-kubernetes: kubernetes.stream.portforward gets the pod's answer",
  { timeout: 90_000, skip: pythonClientUnavailable() },
  async () => {
    const r = await pythonPortForward(c, 'default', 'web', PORT);
    assert.match(r.answer, /^HTTP\/1\.[01] 200 OK\r\n/);
    assert.match(r.answer, /\r\n\r\nhello-from-the-pod\n$/);
    assert.equal(r.error, null);
  },
);

test(
  "services/proxy and pods/proxy reach the pod (it listens on the host's address)",
  { timeout: 60_000 },
  async () => {
    await until(
      "the service's endpoints",
      async () => (await c.kubectl(['get', 'endpoints', 'web', '-o', 'jsonpath={.subsets[0].addresses[0].ip}'])).stdout,
      30_000,
      300,
    );
    assert.equal(
      await c.k(['get', '--raw', '/api/v1/namespaces/default/services/web:8080/proxy/']),
      'hello-from-the-pod\n',
    );
    assert.equal(
      await c.k(['get', '--raw', '/api/v1/namespaces/default/services/web:http/proxy/index.html']),
      'hello-from-the-pod\n',
    );
    assert.equal(
      await c.k(['get', '--raw', `/api/v1/namespaces/default/pods/web:${PORT}/proxy/`]),
      'hello-from-the-pod\n',
    );
  },
);
