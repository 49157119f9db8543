// Logs, exec, attach, cp and port-forward end to end.
//
// Part 1 (always): the real API server with a node agent server (src/agent/server.ts) whose
// runtime is a fake: its exec/attach/portForward URLs point at a small HTTP server in this test
// that answers SPDY upgrades with 101 and echoes bytes (or refuses them). This checks the byte
// pipe kubectl → API server → agent → runtime streaming server, the API server's translation of
// WebSocket exec to SPDY, and `kubectl logs` against files the test writes.
//
// Part 2 (when containerd is installed and the node turns Ready): the real kubectl against real
// containers run by `k8ts server`'s own agent.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import YAML from 'yaml';
import { AgentServer, type PodLocator } from '../../src/agent/server.js';
import { AgentAuth, clientReviewer } from '../../src/agent/auth.js';
import { Client } from '../../src/client/client.js';
import { HttpsTransport } from '../../src/client/https.js';
import type { Runtime } from '../../src/agent/runtime/types.js';
import { TEST_IMAGES } from '../../src/agent/images/testimages.js';
import { issue, loadOrCreateCA } from '../../src/machinery/pki.js';
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
import { sleep, streamKubectl } from './streams.js';

const work = mkdtempSync(join(tmpdir(), 'k8ts-streaming-'));
after(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Part 1: fake runtime behind a real agent server and the real API server.

const NODE = 'stream-node';
const ts = (s: number) => `2024-05-01T10:00:${String(s).padStart(2, '0')}.5Z`;

interface Seen {
  path: string;
  method: string;
  headers: http.IncomingHttpHeaders;
}

let cluster: Cluster;
let agent: AgentServer;
let echo: http.Server;
let echoPort = 0;
const seen: Seen[] = [];
const calls: { kind: string; req: any }[] = [];
const mainLog = join(work, 'main.log');
const previousLog = join(work, 'main-previous.log');
let mainRunning = true;
/** How the fake streaming server answers SPDY upgrades (101 echo, or a refusal). */
let spdyAnswer: 'echo' | 'refuse' = 'echo';

/** The admin identity from the kubeconfig, for raw TLS connections to the API server. */
function adminTLS(kubeconfig: string): { host: string; port: number; ca: Buffer; cert: Buffer; key: Buffer } {
  const cfg = YAML.parse(readFileSync(kubeconfig, 'utf8'));
  const u = new URL(cfg.clusters[0].cluster.server);
  const b64 = (s: string) => Buffer.from(s, 'base64');
  return {
    host: u.hostname,
    port: Number(u.port),
    ca: b64(cfg.clusters[0].cluster['certificate-authority-data']),
    cert: b64(cfg.users[0].user['client-certificate-data']),
    key: b64(cfg.users[0].user['client-key-data']),
  };
}

/** Sends a raw request over TLS; resolves with the socket and everything read until `until` matches (or the end). */
function rawUpgrade(
  kubeconfig: string,
  head: string,
  untilRe: RegExp = /\r\n\r\n/,
): Promise<{ sock: tls.TLSSocket; data: () => string; ended: Promise<void> }> {
  const a = adminTLS(kubeconfig);
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: a.host, port: a.port, ca: a.ca, cert: a.cert, key: a.key }, () =>
      sock.write(head),
    );
    let data = '';
    const ended = new Promise<void>((r) => sock.once('close', () => r()));
    let done = false;
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (!done && untilRe.test(data)) {
        done = true;
        resolve({ sock, data: () => data, ended });
      }
    });
    sock.once('error', reject);
    sock.once('close', () => !done && resolve({ sock, data: () => data, ended }));
    setTimeout(() => !done && reject(new Error(`no answer; got: ${data}`)), 10_000).unref();
  });
}

before(async () => {
  // The runtime's streaming server, faked: SPDY → 101 + echo; WebSocket → refused, as containerd 1.6.
  echo = http.createServer((_req, res) => res.writeHead(404).end());
  echo.on('upgrade', (req, socket, head) => {
    seen.push({ path: req.url ?? '', method: req.method ?? '', headers: req.headers });
    if (String(req.headers.upgrade).toLowerCase() === 'websocket') {
      const body = 'unable to upgrade: v5.channel.k8s.io is not supported\n';
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nX-Backend: fake-containerd\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    if (spdyAnswer === 'refuse') {
      socket.end(
        'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 23\r\n\r\nspdy refused by backend',
      );
      return;
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n',
    );
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as AddressInfo).port;

  writeFileSync(
    mainLog,
    `${ts(1)} stdout F hello from main\n${ts(2)} stderr P err-\n${ts(3)} stderr F line\n${ts(4)} stdout F third\n`,
  );
  writeFileSync(previousLog, `${ts(0)} stdout F I crashed before\n`);
  const runtime = {
    name: 'fake',
    isolated: true,
    exec: (req: any) => {
      calls.push({ kind: 'exec', req });
      return Promise.resolve(`http://127.0.0.1:${echoPort}/exec/tok-exec`);
    },
    attach: (req: any) => {
      calls.push({ kind: 'attach', req });
      return Promise.resolve(`http://127.0.0.1:${echoPort}/attach/tok-attach`);
    },
    portForward: (req: any) => {
      calls.push({ kind: 'portforward', req });
      return Promise.resolve(`http://127.0.0.1:${echoPort}/portforward/tok-pf`);
    },
  } as unknown as Runtime;
  const locator: PodLocator = {
    runtime,
    container: (ns, pod, c) => {
      if (ns !== 'default' || pod !== 'p') return undefined;
      if (c === 'main')
        return {
          current: { id: 'cid-main', logPath: mainLog, running: mainRunning },
          previous: { id: 'cid-old', logPath: previousLog },
        };
      if (c === 'side') return {};
      return undefined;
    },
    sandbox: (ns, pod) => (ns === 'default' && pod === 'p' ? 'sandbox-p' : undefined),
  };

  cluster = await startCluster();
  const ca = await loadOrCreateCA(join(cluster.dataDir, 'server', 'tls'));
  const serving = await issue(ca, { commonName: NODE, sans: ['127.0.0.1'], server: true });
  // The agent asks the API server about its callers as the node, as a real agent does.
  const node = await issue(ca, { commonName: `system:node:${NODE}`, organizations: ['system:nodes'], client: true });
  const nodeClient = new Client(
    new HttpsTransport(
      { server: cluster.url, ca: ca.certPem, cert: node.certPem, key: node.keyPem },
      { fieldManager: 'kubelet' },
    ),
  );
  agent = new AgentServer({
    locator,
    auth: new AgentAuth({ reviewer: clientReviewer(nodeClient), nodeName: NODE }),
    tls: { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem },
    port: 0,
    bindAddress: '127.0.0.1',
  });
  await agent.start();

  await cluster.k(['apply', '-f', '-'], YAML.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } }));
  const status = {
    status: {
      addresses: [
        { type: 'InternalIP', address: '127.0.0.1' },
        { type: 'Hostname', address: NODE },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: agent.port } },
    },
  };
  await cluster.k(['patch', 'node', NODE, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: {
      nodeName: NODE,
      containers: [
        { name: 'main', image: 'busybox' },
        { name: 'side', image: 'busybox' },
      ],
    },
  };
  await cluster.k(['apply', '-f', '-'], YAML.stringify(pod));
  const podStatus = {
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'main',
          ready: true,
          restartCount: 1,
          image: 'busybox',
          imageID: '',
          containerID: 'containerd://cid-main',
          started: true,
          state: { running: { startedAt: '2024-05-01T10:00:00Z' } },
          lastState: {
            terminated: {
              exitCode: 1,
              reason: 'Error',
              containerID: 'containerd://cid-old',
              startedAt: '2024-05-01T09:59:00Z',
              finishedAt: '2024-05-01T09:59:59Z',
            },
          },
        },
        {
          name: 'side',
          ready: false,
          restartCount: 0,
          image: 'busybox',
          imageID: '',
          state: { waiting: { reason: 'ContainerCreating' } },
        },
      ],
    },
  };
  await cluster.k(['patch', 'pod', 'p', '--subresource=status', '--type=merge', '-p', JSON.stringify(podStatus)]);
});

after(async () => {
  await agent?.stop();
  await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
  echo?.closeAllConnections();
  await cluster?.cleanup();
});

test('discovery lists the node subresources with upstream verbs', async () => {
  const raw = rawClient(cluster.kubeconfig);
  const { body } = await raw.json('GET', '/api/v1');
  const verbs = (n: string) => body.resources.find((r: any) => r.name === n)?.verbs;
  assert.deepEqual(verbs('pods/log'), ['get']);
  assert.deepEqual(verbs('pods/exec'), ['create', 'get']);
  assert.deepEqual(verbs('pods/attach'), ['create', 'get']);
  assert.deepEqual(verbs('pods/portforward'), ['create', 'get']);
  assert.deepEqual(verbs('nodes/proxy'), ['create', 'delete', 'get', 'patch', 'update']);
  raw.agent.destroy();
});

test('kubectl logs through the API server and the agent', async () => {
  assert.equal(await cluster.k(['logs', 'p', '-c', 'main']), 'hello from main\nerr-line\nthird\n');
  assert.equal(await cluster.k(['logs', 'p', '-c', 'main', '--tail=1']), 'third\n');
  assert.equal(
    await cluster.k(['logs', 'p', '-c', 'main', '--tail=2', '--timestamps']),
    '2024-05-01T10:00:02.5Z err-line\n2024-05-01T10:00:04.5Z third\n',
  );
  assert.equal(await cluster.k(['logs', 'p', '-c', 'main', '--limit-bytes=8']), 'hello fr');
  assert.equal(await cluster.k(['logs', 'p', '-c', 'main', '--since-time=2024-05-01T10:00:04Z']), 'third\n');
  assert.equal(await cluster.k(['logs', 'p', '-c', 'main', '--previous']), 'I crashed before\n');

  // kubectl picks a container itself; the server's own answer for a pod with several:
  const raw = rawClient(cluster.kubeconfig);
  const noContainer = await raw.json('GET', '/api/v1/namespaces/default/pods/p/log');
  assert.equal(noContainer.status, 400);
  assert.equal(noContainer.body.message, 'a container name must be specified for pod p, choose one of: [main side]');
  const bad = await raw.json('GET', '/api/v1/namespaces/default/pods/p/log?container=main&tailLines=-1&limitBytes=0');
  assert.equal(bad.status, 422);
  assert.equal(
    bad.body.message,
    'PodLogOptions "p" is invalid: [tailLines: Invalid value: -1: must be greater than or equal to 0, limitBytes: Invalid value: 0: must be greater than 0]',
  );
  raw.agent.destroy();
  let r = await cluster.kubectl(['logs', 'p', '-c', 'nope']);
  assert.match(r.stderr, /container nope is not valid for pod p/);
  r = await cluster.kubectl(['logs', 'p', '-c', 'side']);
  assert.match(r.stderr, /container "side" in pod "p" is waiting to start: ContainerCreating/);
  r = await cluster.kubectl(['logs', 'p', '-c', 'side', '--previous']);
  assert.match(r.stderr, /previous terminated container "side" in pod "p" not found/);
  r = await cluster.kubectl(['logs', 'p', '-c', 'main', '--tail=-5', '--since=0s']);
  assert.notEqual(r.code, 0);
});

test('kubectl logs -f shows lines as they are written and ends when the container stops', async () => {
  const s = streamKubectl(cluster, ['logs', '-f', 'p', '-c', 'main', '--tail=1'], { maxMs: 20_000 });
  try {
    await s.waitFor(/^third\n$/);
    appendFileSync(mainLog, `${ts(5)} stdout F live one\n`);
    await s.waitFor(/live one\n$/);
    appendFileSync(mainLog, `${ts(6)} stdout F live two\n`);
    await s.waitFor(/live two\n$/);
    mainRunning = false;
    const code = await new Promise((r) => (s.proc.exitCode !== null ? r(s.proc.exitCode) : s.proc.once('exit', r)));
    assert.equal(code, 0);
    assert.equal(s.out, 'third\nlive one\nlive two\n');
  } finally {
    mainRunning = true;
    await s.stop();
  }
});

test('exec upgrade: bytes piped both ways to the runtime streaming server', async () => {
  seen.length = 0;
  calls.length = 0;
  const head =
    'POST /api/v1/namespaces/default/pods/p/exec?command=echo&command=hi&container=main&stdin=true&stdout=true&stderr=true HTTP/1.1\r\n' +
    'Host: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\nX-Stream-Protocol-Version: v3.channel.k8s.io\r\nContent-Length: 0\r\n\r\n';
  const c = await rawUpgrade(cluster.kubeconfig, head);
  assert.match(c.data(), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(c.data(), /X-Stream-Protocol-Version: v4.channel.k8s.io/);
  const payload = Buffer.from([0, 1, 2, 255, 10, 13, 0x80]).toString('latin1') + 'ping-123';
  const echoed = new Promise<string>((resolve) => {
    let got = '';
    c.sock.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('ping-123')) resolve(got);
    });
  });
  c.sock.write(Buffer.from(payload, 'latin1'));
  assert.equal(await echoed, payload);
  c.sock.end();
  await c.ended;
  assert.deepEqual(calls[0], {
    kind: 'exec',
    req: { containerId: 'cid-main', cmd: ['echo', 'hi'], tty: false, stdin: true, stdout: true, stderr: true },
  });
  assert.equal(seen[0].path, '/exec/tok-exec');
  assert.equal(seen[0].method, 'POST');
  assert.equal(seen[0].headers['x-stream-protocol-version'], 'v4.channel.k8s.io, v3.channel.k8s.io');
  assert.equal(seen[0].headers.authorization, undefined);
});

test('a WebSocket exec is translated: the runtime streaming server is asked for SPDY, and its failure comes back on the error channel', async () => {
  seen.length = 0;
  const head =
    'GET /api/v1/namespaces/default/pods/p/exec?command=sh&container=main&stdout=true HTTP/1.1\r\nHost: x\r\n' +
    'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n';
  // The API server answers the WebSocket itself (upstream's StreamTranslator); the echo server
  // is no SPDY peer, so the session fails, and says so as a Status on the error channel (3).
  const c = await rawUpgrade(cluster.kubeconfig, head, /"code":\d+\}/);
  assert.match(c.data(), /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.match(c.data(), /Sec-WebSocket-Protocol: v5\.channel\.k8s\.io\r\n/);
  assert.match(c.data(), /"status":"Failure"/);
  c.sock.destroy();
  assert.equal(String(seen.at(-1)!.headers.upgrade).toLowerCase(), 'spdy/3.1');
  assert.match(String(seen.at(-1)!.headers['x-stream-protocol-version']), /v4\.channel\.k8s\.io/);
});

test('real kubectl exec over WebSocket: a runtime that refuses SPDY is reported through the translated session', async () => {
  seen.length = 0;
  spdyAnswer = 'refuse';
  try {
    const r = await cluster.kubectl(['exec', 'p', '-c', 'main', '--', 'true'], { timeoutMs: 20_000 });
    assert.notEqual(r.code, 0);
    // Whatever protocol kubectl spoke to the API server, the runtime only ever sees SPDY.
    assert.ok(seen.length >= 1);
    for (const s of seen) assert.equal(String(s.headers.upgrade).toLowerCase(), 'spdy/3.1');
    assert.match(r.stderr, /spdy refused by backend/);
  } finally {
    spdyAnswer = 'echo';
  }
});

test('attach and port-forward upgrades; a plain request gets "Upgrade request required"', async () => {
  calls.length = 0;
  seen.length = 0;
  const spdy = 'Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n';
  let c = await rawUpgrade(
    cluster.kubeconfig,
    `POST /api/v1/namespaces/default/pods/p/attach?container=main&stdout=true&tty=true HTTP/1.1\r\nHost: x\r\n${spdy}`,
  );
  assert.match(c.data(), /^HTTP\/1\.1 101 /);
  c.sock.destroy();
  c = await rawUpgrade(
    cluster.kubeconfig,
    `POST /api/v1/namespaces/default/pods/p/portforward HTTP/1.1\r\nHost: x\r\n${spdy}`,
  );
  assert.match(c.data(), /^HTTP\/1\.1 101 /);
  c.sock.destroy();
  assert.deepEqual(calls, [
    { kind: 'attach', req: { containerId: 'cid-main', tty: true, stdin: false, stdout: true, stderr: false } },
    { kind: 'portforward', req: { podSandboxId: 'sandbox-p', port: [] } },
  ]);
  assert.deepEqual(
    seen.map((s) => s.path),
    ['/attach/tok-attach', '/portforward/tok-pf'],
  );

  const raw = rawClient(cluster.kubeconfig);
  const plain = await raw.json('POST', '/api/v1/namespaces/default/pods/p/exec?command=ls&container=main&stdout=true');
  assert.equal(plain.status, 400);
  assert.equal(plain.body.message, 'Upgrade request required');
  const missing = await raw.json('POST', '/api/v1/namespaces/default/pods/nope/exec?command=ls&stdout=true');
  assert.equal(missing.status, 404);
  // nodes/{name}/proxy reaches the agent.
  const healthz = await raw.request('GET', `/api/v1/nodes/${NODE}/proxy/healthz`);
  assert.equal(healthz.status, 200);
  assert.equal(healthz.body, 'ok');
  raw.agent.destroy();
});

test('the agent only serves clients with a certificate from the cluster CA', async () => {
  const r = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    https
      .get(
        { host: '127.0.0.1', port: agent.port, path: '/containerLogs/default/p/main', rejectUnauthorized: false },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      )
      .on('error', reject);
  });
  assert.equal(r.status, 401);
});

// ---------------------------------------------------------------------------------------------
// Part 2: the real thing (containerd), skipped where it can't run.

test(
  'real containers: logs, exec, cp, port-forward, attach, --previous',
  { skip: realContainersUnavailable(), timeout: 240_000 },
  async (t) => {
    const real = await startCluster({ agent: true });
    try {
      if (!(await hasReadyNode(real))) {
        t.skip(NO_READY_NODE);
        return;
      }
      // The test images, built from the host's busybox, into the agent's containerd.
      await importTestImages(real, ['busybox', 'httpd']);

      const pods = [
        {
          name: 'talker',
          image: TEST_IMAGES.busybox,
          command: ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo "line-$i"; sleep 0.3; done'],
        },
        { name: 'web', image: TEST_IMAGES.httpd },
        {
          name: 'crasher',
          image: TEST_IMAGES.busybox,
          command: ['sh', '-c', 'echo "run at $(date +%s)"; sleep 1; exit 3'],
        },
      ];
      for (const p of pods) {
        const spec = {
          containers: [
            {
              name: 'c',
              image: p.image,
              imagePullPolicy: 'IfNotPresent',
              ...(p.command ? { command: p.command } : {}),
            },
          ],
          terminationGracePeriodSeconds: 1,
        };
        await real.k(
          ['apply', '-f', '-'],
          YAML.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name }, spec }),
        );
      }
      await real.k(['wait', '--for=condition=Ready', 'pod/talker', 'pod/web', '--timeout=90s']);

      // logs, --tail, --timestamps, -f
      await until('talker logs', async () =>
        (await real.k(['logs', 'talker'])).includes('line-3') ? true : undefined,
      );
      const tail = await real.k(['logs', 'talker', '--tail=2']);
      assert.equal(tail.trim().split('\n').length, 2);
      assert.match(
        await real.k(['logs', 'talker', '--tail=1', '--timestamps']),
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d) line-\d+\n$/,
      );
      const follow = streamKubectl(real, ['logs', '-f', 'talker', '--tail=1'], { maxMs: 20_000 });
      try {
        const first = Number(/line-(\d+)/.exec(await follow.waitFor(/line-\d+\n/))![1]);
        await follow.waitFor(new RegExp(`line-${first + 2}\\n`));
      } finally {
        await follow.stop();
      }

      // exec, with and without stdin; exec -i with piped input
      assert.equal(await real.k(['exec', 'talker', '--', 'echo', 'hello exec']), 'hello exec\n');
      assert.equal((await real.kubectl(['exec', 'talker', '--', 'sh', '-c', 'exit 7'])).code, 7);
      assert.equal(
        await real.k(['exec', '-i', 'talker', '--', 'sh', '-c', 'tr a-z A-Z'], 'piped input\n'),
        'PIPED INPUT\n',
      );

      // cp both directions
      const local = join(work, 'cp-in.txt');
      writeFileSync(local, 'copied through tar\n');
      await real.k(['cp', local, 'talker:/tmp/cp.txt']);
      assert.equal(await real.k(['exec', 'talker', '--', 'cat', '/tmp/cp.txt']), 'copied through tar\n');
      const back = join(work, 'cp-out.txt');
      await real.k(['cp', 'talker:/tmp/cp.txt', back]);
      assert.equal(readFileSync(back, 'utf8'), 'copied through tar\n');

      // port-forward, then fetch from localhost
      const pf = streamKubectl(real, ['port-forward', 'pod/web', ':8080'], { maxMs: 30_000 });
      try {
        const port = Number(
          /Forwarding from 127\.0\.0\.1:(\d+)/.exec(await pf.waitFor(/Forwarding from 127\.0\.0\.1:\d+/, 15_000))![1],
        );
        const page = await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text());
        assert.match(page, /It works!/);
      } finally {
        await pf.stop();
      }

      // attach: the running process's output
      const att = streamKubectl(real, ['attach', 'talker'], { maxMs: 20_000 });
      try {
        await att.waitFor(/line-\d+/, 15_000);
      } finally {
        await att.stop();
      }

      // --previous after a restart
      await until(
        'crasher restarted',
        async () => {
          const r = await real.kubectl([
            'get',
            'pod',
            'crasher',
            '-o',
            'jsonpath={.status.containerStatuses[0].restartCount}',
          ]);
          return Number(r.stdout) >= 1 ? true : undefined;
        },
        90_000,
        1000,
      );
      assert.match(await real.k(['logs', 'crasher', '--previous']), /^run at \d+\n$/);
    } finally {
      await real.cleanup();
    }
  },
);

// Keep `sleep` referenced for quick debugging pauses.
void sleep;
