// Three servers on one managed etcd (addresses 198.18.13.1-3 on lo, see haservers.ts):
// - the `kubernetes` Service's endpoints list every live server (lease endpoint reconciler); a
//   server killed with -9 drops out once its Lease has expired, one stopped cleanly at once;
// - an agent joined through one server fails over to another when that one is killed: its
//   node's Lease keeps being renewed, it stays Ready and starts a pod created afterwards.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaServers, addLocalAddresses, removeLocalAddresses } from './haservers.js';
import { K8TS_BIN, stopChild, run, until, type Cluster } from './harness.js';
import { buildTestImage } from '../../src/agent/images/testimages.js';

const IPS = ['198.18.13.1', '198.18.13.2', '198.18.13.3'];
const ha = new HaServers();
let unavailable: string | undefined;
let agent: ChildProcess | undefined;
let agentOut = '';
const agentDir = mkdtempSync(join(tmpdir(), 'k8ts-ha-agent-'));

before(async () => {
  unavailable = await addLocalAddresses(IPS);
});

after(async () => {
  await stopChild(agent);
  await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', agentDir], {});
  rmSync(agentDir, { recursive: true, force: true });
  await ha.cleanup();
  if (!unavailable) await removeLocalAddresses(IPS);
});

async function endpointIPs(c: Cluster): Promise<string> {
  const out = await c.k(['get', 'endpoints', 'kubernetes', '-o', 'jsonpath={.subsets[*].addresses[*].ip}']);
  return out.trim().split(/\s+/).filter(Boolean).sort().join(' ');
}

async function sliceIPs(c: Cluster): Promise<string> {
  const out = await c.k(['get', 'endpointslice', 'kubernetes', '-o', 'jsonpath={.endpoints[*].addresses[*]}']);
  return out.trim().split(/\s+/).filter(Boolean).sort().join(' ');
}

let a: Cluster;
let b: Cluster;

test(
  'the kubernetes Service lists every live server; a killed one drops out after its lease',
  { timeout: 300_000 },
  async (t) => {
    if (unavailable) return t.skip(unavailable);
    a = await ha.start(IPS[0]);
    b = await ha.start(IPS[1], a);
    const c = await ha.start(IPS[2], a);
    const all = IPS.join(' ');

    await until('three addresses in the kubernetes Endpoints', async () => (await endpointIPs(a)) === all, 30_000);
    assert.equal(await sliceIPs(b), all);
    const port = new URL(a.url).port;
    assert.equal(
      (await a.k(['get', 'endpoints', 'kubernetes', '-o', 'jsonpath={.subsets[*].ports[*].port}'])).trim(),
      port,
    );
    const leases = await a.k([
      '-n',
      'kube-system',
      'get',
      'leases',
      '-l',
      'apiserver.kubernetes.io/identity=kube-apiserver',
      '-o',
      'jsonpath={.items[*].metadata.annotations.k8ts\\.io/apiserver-endpoint}',
    ]);
    assert.equal(leases.trim().split(/\s+/).sort().join(' '), IPS.map((ip) => `${ip}:${port}`).join(' '));

    // kill -9 of C (its etcd member stays up): only its Lease's expiry (15 s) removes it.
    await c.stop('SIGKILL');
    const killedAt = Date.now();
    await until(
      'C dropped from the kubernetes Endpoints',
      async () => (await endpointIPs(a)) === IPS.slice(0, 2).join(' '),
      30_000,
    );
    const dropped = Date.now() - killedAt;
    assert.ok(dropped >= 5_000, `dropped after ${dropped} ms, before its lease could expire`);
    assert.equal(await sliceIPs(a), IPS.slice(0, 2).join(' '));

    // Back again, then stopped cleanly: it takes its address out itself, at once.
    await c.restart();
    await until('C back in the kubernetes Endpoints', async () => (await endpointIPs(a)) === all, 30_000);
    await c.stop('SIGTERM');
    assert.equal(await endpointIPs(a), IPS.slice(0, 2).join(' '));
    assert.equal(await sliceIPs(a), IPS.slice(0, 2).join(' '));
  },
);

test(
  'an agent fails over to another server when its server is killed; its node stays Ready',
  { timeout: 300_000 },
  async (t) => {
    if (unavailable || !a || !b) return t.skip(unavailable ?? 'no servers');
    const token = readFileSync(join(a.dataDir, 'server', 'token'), 'utf8').trim();
    agent = spawn(
      process.execPath,
      [
        K8TS_BIN,
        'agent',
        '--server',
        a.url,
        '--token',
        token,
        '--data-dir',
        agentDir,
        '--node-name',
        'ha-agent',
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
    agent.stderr!.on('data', (d: Buffer) => {
      agentOut += d.toString();
      if (process.env.K8TS_TEST_LOGS) process.stderr.write(d);
    });
    const nodeReady = async (via: Cluster) => {
      if (agent!.exitCode !== null) throw new Error(`agent exited with ${agent!.exitCode}: ${agentOut}`);
      const r = await via.kubectl(['get', 'nodes', 'ha-agent', '--no-headers']);
      return r.code === 0 && /\sReady\s/.test(r.stdout);
    };
    await until('node ha-agent Ready', () => nodeReady(a), 60_000, 500);
    // The agent learns both servers from the kubernetes EndpointSlices and keeps them.
    const listFile = join(agentDir, 'agent', 'etc', 'servers.json');
    await until(
      "both servers in the agent's list",
      () => {
        const servers = (JSON.parse(readFileSync(listFile, 'utf8')) as { servers: string[] }).servers;
        return servers.includes(a.url) && servers.includes(b.url);
      },
      30_000,
      500,
    );
    const tar = join(agentDir, 'busybox.tar');
    writeFileSync(tar, buildTestImage('busybox').tar);
    const imp = await run(process.execPath, [K8TS_BIN, 'image', 'import', '--data-dir', agentDir, tar], {
      timeoutMs: 60_000,
    });
    assert.equal(imp.code, 0, `image import failed: ${imp.stderr}`);

    // kill -9 of the agent's server (its etcd member stays, so etcd keeps its quorum).
    const renewTime = async () =>
      (await b.k(['-n', 'kube-node-lease', 'get', 'lease', 'ha-agent', '-o', 'jsonpath={.spec.renewTime}'])).trim();
    const before = await renewTime();
    await a.stop('SIGKILL');
    const killedAt = Date.now();
    const renewed = await until(
      'node lease renewed through B',
      async () => ((await renewTime()) !== before ? Date.now() : 0),
      {
        timeoutMs: 60_000,
        stepMs: 250,
        diag: () => agentOut.slice(-3000),
      },
    );
    t.diagnostic(`node lease renewed ${renewed - killedAt} ms after the server was killed`);
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'after-failover', namespace: 'default' },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': 'ha-agent' },
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image: 'k8ts.local/busybox:1.35',
            imagePullPolicy: 'IfNotPresent',
            command: ['sh', '-c', 'echo started after failover; sleep 30'],
          },
        ],
      },
    };
    await b.k(['apply', '-f', '-'], JSON.stringify(pod));
    await until(
      'pod after-failover Running',
      async () => {
        const p = JSON.parse(await b.k(['get', 'pod', 'after-failover', '-o', 'json'])) as {
          status?: { phase?: string };
        };
        return p.status?.phase === 'Running' || p.status?.phase === 'Succeeded';
      },
      { timeoutMs: 90_000, stepMs: 500, diag: () => agentOut.slice(-3000) },
    );
    // Still Ready a node-monitor grace period later (40 s of no renewals would make it NotReady).
    assert.ok(await nodeReady(b));
    const nextRenewal = await renewTime();
    await until('node lease renewed again', async () => (await renewTime()) !== nextRenewal, 30_000, 500);
    assert.match(agentOut, /switching/);
  },
);
