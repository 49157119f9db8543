// `k8ts agent --server URL --token T`: a node joins a running server with the server's token,
// becomes Ready, keeps its Lease, runs a pod (process runtime) whose logs kubectl reads through
// the API server; wrong tokens and tokens pinning another CA are refused before anything runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8TS_BIN, stopChild, run, startCluster, until, type Cluster } from './harness.js';
import { buildTestImage } from '../../src/agent/images/testimages.js';

let cluster: Cluster;
let agentDir: string;
let agent: ChildProcess | undefined;
let agentOut = '';
let token: string;

function startAgent(args: string[]): ChildProcess {
  const proc = spawn(process.execPath, [K8TS_BIN, 'agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout.on('data', (d) => (agentOut += d));
  proc.stderr.on('data', (d) => {
    agentOut += d;
    if (process.env.K8TS_TEST_LOGS) process.stderr.write(d);
  });
  return proc;
}

before(async () => {
  cluster = await startCluster();
  agentDir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-agent-'));
});

after(async () => {
  await stopChild(agent);
  await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', agentDir], {});
  await cluster?.cleanup();
  rmSync(agentDir, { recursive: true, force: true });
});

test('the server stores a K10 token (mode 0600) holding its CA hash', () => {
  const path = join(cluster.dataDir, 'server', 'token');
  token = readFileSync(path, 'utf8').trim();
  assert.match(token, /^K10[0-9a-f]{64}::server:\S+$/);
  assert.equal(statSync(path).mode & 0o777, 0o600);
});

test('a wrong token is refused with a clear message', async () => {
  const secretless = token.replace(/::server:.*$/, '::server:not-the-secret');
  const r = await run(
    process.execPath,
    [
      K8TS_BIN,
      'agent',
      '--server',
      cluster.url,
      '--token',
      secretless,
      '--data-dir',
      agentDir,
      '--node-name',
      'bad-1',
      '--runtime',
      'process',
      '--kubelet-port',
      '0',
    ],
    { timeoutMs: 30_000 },
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /refused the join token \(401 Unauthorized\)/);
  assert.ok(!existsSync(join(agentDir, 'agent', 'tls', 'client-kubelet-current.pem')), 'no certificate was stored');
});

test('a token whose CA hash does not match the server is refused', async () => {
  const otherHash = token.replace(/^K10[0-9a-f]{64}/, `K10${'0'.repeat(64)}`);
  const r = await run(
    process.execPath,
    [
      K8TS_BIN,
      'agent',
      '--server',
      cluster.url,
      '--token',
      otherHash,
      '--data-dir',
      agentDir,
      '--node-name',
      'bad-2',
      '--runtime',
      'process',
      '--kubelet-port',
      '0',
    ],
    { timeoutMs: 30_000 },
  );
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /does not match the token/);
  const nodes = await cluster.k(['get', 'nodes', '-o', 'name']);
  assert.doesNotMatch(nodes, /bad-/);
});

test('an agent joins with the token and its node becomes Ready', async () => {
  agent = startAgent([
    '--server',
    cluster.url,
    '--token',
    token,
    '--data-dir',
    agentDir,
    '--node-name',
    'joined-1',
    '--runtime',
    'process',
    '--kubelet-port',
    '0',
    '--log-level',
    'warn',
  ]);
  await until(
    'node joined-1 Ready',
    async () => {
      if (agent!.exitCode !== null) throw new Error(`agent exited with ${agent!.exitCode}: ${agentOut}`);
      const r = await cluster.kubectl(['get', 'nodes', 'joined-1', '--no-headers']);
      return r.code === 0 && /\sReady\s/.test(r.stdout);
    },
    60_000,
    500,
  );
  const node = JSON.parse(await cluster.k(['get', 'node', 'joined-1', '-o', 'json']));
  assert.equal(node.metadata.labels?.['node-role.kubernetes.io/control-plane'], undefined);
  assert.ok(existsSync(join(agentDir, 'agent', 'kubeconfig.yaml')));
  const cert = readFileSync(join(agentDir, 'agent', 'tls', 'client-kubelet-current.pem'), 'utf8');
  assert.match(cert, /BEGIN CERTIFICATE/);
});

test('the node keeps its Lease in kube-node-lease', async () => {
  const renewTime = async () =>
    JSON.parse(await cluster.k(['get', 'lease', '-n', 'kube-node-lease', 'joined-1', '-o', 'json'])).spec
      .renewTime as string;
  const first = await until('lease joined-1', renewTime, 20_000, 500);
  const later = await until(
    'lease joined-1 renewed',
    async () => {
      const t = await renewTime();
      return t !== first ? t : undefined;
    },
    30_000,
    1000,
  );
  assert.ok(new Date(later).getTime() > new Date(first).getTime());
});

test('a pod runs on the joined node and kubectl logs reads it through the agent', async () => {
  const tar = join(agentDir, 'busybox.tar');
  writeFileSync(tar, buildTestImage('busybox').tar);
  const imp = await run(process.execPath, [K8TS_BIN, 'image', 'import', '--data-dir', agentDir, tar], {
    timeoutMs: 60_000,
  });
  assert.equal(imp.code, 0, `image import failed: ${imp.stderr}`);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'hello-joined', namespace: 'default' },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': 'joined-1' },
      restartPolicy: 'Never',
      containers: [
        {
          name: 'main',
          image: 'k8ts.local/busybox:1.35',
          imagePullPolicy: 'IfNotPresent',
          command: ['sh', '-c', 'echo hello from joined-1; sleep 30'],
        },
      ],
    },
  };
  await cluster.k(['apply', '-f', '-'], JSON.stringify(pod));
  await until(
    'pod hello-joined Running',
    async () => {
      const p = JSON.parse(await cluster.k(['get', 'pod', 'hello-joined', '-o', 'json']));
      return p.status?.phase === 'Running' || p.status?.phase === 'Succeeded';
    },
    60_000,
    500,
  );
  const logs = await until(
    'logs of hello-joined',
    async () => {
      const r = await cluster.kubectl(['logs', 'hello-joined']);
      return r.code === 0 && r.stdout.includes('hello from joined-1') ? r.stdout : undefined;
    },
    30_000,
    500,
  );
  assert.match(logs, /hello from joined-1/);
  await cluster.k(['delete', 'pod', 'hello-joined', '--grace-period=0', '--force', '--wait=false']);
});

test('the agent stops cleanly on SIGTERM', async () => {
  assert.equal(await stopChild(agent, 'SIGTERM', 20_000), 0, agentOut);
});

test('a restarted agent reuses its stored certificates and comes back Ready', async () => {
  const certFile = join(agentDir, 'agent', 'tls', 'client-kubelet-current.pem');
  const before = readFileSync(certFile, 'utf8');
  agentOut = '';
  agent = startAgent([
    '--server',
    cluster.url,
    '--token',
    token,
    '--data-dir',
    agentDir,
    '--node-name',
    'joined-1',
    '--runtime',
    'process',
    '--kubelet-port',
    '0',
    '--log-level',
    'warn',
  ]);
  await until(
    'restarted agent ready',
    () => {
      if (agent!.exitCode !== null) throw new Error(`agent exited with ${agent!.exitCode}: ${agentOut}`);
      return agentOut.includes('k8ts agent ready: node joined-1');
    },
    60_000,
    300,
  );
  assert.equal(readFileSync(certFile, 'utf8'), before, 'the client certificate was reused, not re-issued');
  const exited = new Promise<number | null>((r) => agent!.once('exit', (code) => r(code)));
  agent.kill('SIGTERM');
  assert.equal(await exited, 0, agentOut);
});
