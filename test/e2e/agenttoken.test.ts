// The agent-only token (k3s's --agent-token): an agent joins with it and its node becomes Ready;
// `k8ts server --server URL --token AGENT_TOKEN` is refused, saying which token a server needs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { K8TS_BIN, stopChild, run, startCluster, until, type Cluster } from './harness.js';

let cluster: Cluster;
let agent: ChildProcess | undefined;
let agentOut = '';
const agentDir = mkdtempSync(join(tmpdir(), 'k8ts-agenttoken-agent-'));
const joiningDir = mkdtempSync(join(tmpdir(), 'k8ts-agenttoken-server-'));

before(async () => {
  cluster = await startCluster({ args: ['--agent-token', 'agent-only-secret'] });
});

after(async () => {
  await stopChild(agent);
  await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', agentDir], {});
  await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', joiningDir], {});
  await cluster?.cleanup();
  rmSync(agentDir, { recursive: true, force: true });
  rmSync(joiningDir, { recursive: true, force: true });
});

const agentToken = () => readFileSync(join(cluster.dataDir, 'server', 'agent-token'), 'utf8').trim();

test('the agent token is stored as K10<CA hash>::node:<secret>, mode 0600', () => {
  assert.match(agentToken(), /^K10[0-9a-f]{64}::node:agent-only-secret$/);
  assert.equal(statSync(join(cluster.dataDir, 'server', 'agent-token')).mode & 0o777, 0o600);
});

test('a server joining with the agent token is refused with a clear message', { timeout: 60_000 }, async () => {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const res = await request(`${cluster.url}/k8ts/v1/server-bootstrap`, {
      dispatcher,
      headers: { authorization: `Bearer ${agentToken()}` },
    });
    assert.equal(res.statusCode, 403);
    assert.match(await res.body.text(), /agent token joins agents only/);
  } finally {
    await dispatcher.close();
  }
  const r = await run(
    process.execPath,
    [
      K8TS_BIN,
      'server',
      '--data-dir',
      joiningDir,
      '--server',
      cluster.url,
      '--token',
      agentToken(),
      '--bind-address',
      '127.0.0.1',
      '--https-listen-port',
      '0',
      '--disable-agent',
      '--disable-ingress',
    ],
    { timeoutMs: 50_000 },
  );
  assert.notEqual(r.code, 0, r.stdout);
  assert.match(r.stderr, /agent token joins agents only: a server joins with the server token/);
});

test('an agent joins with the agent token and its node becomes Ready', { timeout: 90_000 }, async () => {
  agent = spawn(
    process.execPath,
    [
      K8TS_BIN,
      'agent',
      '--server',
      cluster.url,
      '--token',
      agentToken(),
      '--data-dir',
      agentDir,
      '--node-name',
      'agent-token-node',
      '--runtime',
      'process',
      '--kubelet-port',
      '0',
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  agent.stdout!.on('data', (d: Buffer) => (agentOut += d.toString()));
  agent.stderr!.on('data', (d: Buffer) => (agentOut += d.toString()));
  await until(
    'node agent-token-node Ready',
    async () => {
      if (agent!.exitCode !== null) throw new Error(`agent exited with ${agent!.exitCode}: ${agentOut}`);
      const r = await cluster.kubectl(['get', 'nodes', 'agent-token-node', '--no-headers']);
      return r.code === 0 && /\sReady\s/.test(r.stdout);
    },
    60_000,
    500,
  );
});
