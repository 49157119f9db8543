// Pod networking between nodes (src/agent/network/routes.ts, flannel host-gw style): a server with
// its own containerd agent on the host, and a second containerd agent inside a network namespace
// joined to the host by a veth pair (one L2 link). Each agent routes the other's podCIDR via the
// other's InternalIP; a pod on each node reaches the other by pod IP and sees its real source IP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  K8TS_BIN,
  freeOctet,
  importTestImages,
  realContainersUnavailable,
  run,
  startCluster,
  stopChild,
  until,
  type Cluster,
} from './harness.js';
import { buildTestImage } from '../../src/agent/images/testimages.js';

const skip =
  realContainersUnavailable() ??
  (spawnSync('sh', ['-c', 'command -v ip && command -v iptables'], { stdio: 'ignore' }).status === 0
    ? undefined
    : 'ip/iptables missing');

const ns = `k8ts-mn-${randomBytes(3).toString('hex')}`;
const vethHost = `k8mn${ns.slice(-6)}`;
// A /24 for the veth link and a /16 for pods that no address or route of this host uses yet.
const r = freeOctet((n) => `10.199.${n}.`, 1, 250);
const x = freeOctet((n) => `10.${n}.`, 150, 250);
const hostIP = `10.199.${r}.1`;
// nsenter, not `ip netns exec`: that one also makes a mount namespace with a fresh /sys, which hides
// the cgroup v1 mounts under /sys/fs/cgroup (runc then fails: "no cgroup mount found in mountinfo").
const inNs = [`--net=/run/netns/${ns}`, '--'];
const nsIP = `10.199.${r}.2`;

let cluster: Cluster | undefined;
let agentDir: string;
let agent: ChildProcess | undefined;
let agentOut = '';
let nsCreated = false;

function sh(cmd: string, args: string[]): void {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${res.stderr}`);
}

before(async () => {
  if (skip) return;
  agentDir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-mn2-'));
  sh('ip', ['netns', 'add', ns]);
  nsCreated = true;
  sh('ip', ['link', 'add', vethHost, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
  sh('ip', ['addr', 'add', `${hostIP}/24`, 'dev', vethHost]);
  sh('ip', ['link', 'set', vethHost, 'up']);
  sh('ip', ['-n', ns, 'addr', 'add', `${nsIP}/24`, 'dev', 'eth0']);
  sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', hostIP]);
  cluster = await startCluster({
    agent: true,
    args: [
      '--bind-address',
      '0.0.0.0',
      '--tls-san',
      hostIP,
      '--node-ip',
      hostIP,
      '--node-name',
      'mn-1',
      '--cluster-cidr',
      `10.${x}.0.0/16`,
      '--runtime',
      'containerd',
    ],
  });
});

after(async () => {
  if (skip) return;
  await stopChild(agent, 'SIGTERM', 20_000);
  if (agentDir) {
    await run('nsenter', [...inNs, process.execPath, K8TS_BIN, 'killall', '--data-dir', agentDir], {
      timeoutMs: 120_000,
    });
  }
  await cluster?.cleanup();
  if (nsCreated) spawnSync('ip', ['netns', 'delete', ns]);
  spawnSync('ip', ['link', 'delete', vethHost], { stdio: 'ignore' });
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
});

function server(name: string, nodeName: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': nodeName },
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: 'k8ts.local/busybox:1.35',
          imagePullPolicy: 'IfNotPresent',
          command: [
            'sh',
            '-c',
            `echo hello from ${name} > /tmp/index.html; trap 'exit 0' TERM; httpd -f -v -p 8080 -h /tmp & wait`,
          ],
        },
      ],
    },
  };
}

test(
  'a second containerd agent in a network namespace joins and gets a podCIDR',
  { skip, timeout: 240_000 },
  async () => {
    const c = cluster!;
    const token = readFileSync(join(c.dataDir, 'server', 'token'), 'utf8').trim();
    const port = new URL(c.url).port;
    agent = spawn(
      'nsenter',
      [
        ...inNs,
        process.execPath,
        K8TS_BIN,
        'agent',
        '--server',
        `https://${hostIP}:${port}`,
        '--token',
        token,
        '--data-dir',
        agentDir,
        '--node-name',
        'mn-2',
        '--node-ip',
        nsIP,
        '--runtime',
        'containerd',
        '--kubelet-port',
        '0',
        '--log-level',
        'info',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    agent.stdout!.on('data', (d) => (agentOut += d));
    agent.stderr!.on('data', (d) => {
      agentOut += d;
      if (process.env.K8TS_TEST_LOGS) process.stderr.write(d);
    });
    for (const n of ['mn-1', 'mn-2']) {
      await until(
        `node ${n} Ready`,
        async () => {
          if (agent!.exitCode !== null) throw new Error(`agent exited with ${agent!.exitCode}: ${agentOut}`);
          const res = await c.kubectl(['get', 'nodes', n, '--no-headers']);
          return res.code === 0 && /\sReady\s/.test(res.stdout);
        },
        120_000,
        500,
      );
    }
    // Images: the server's agent through the harness, the second agent with `k8ts image import`.
    await importTestImages(c, ['busybox']);
    const tar = join(agentDir, 'busybox.tar');
    writeFileSync(tar, buildTestImage('busybox').tar);
    const imp = await run(
      'nsenter',
      [...inNs, process.execPath, K8TS_BIN, 'image', 'import', '--data-dir', agentDir, tar],
      { timeoutMs: 120_000 },
    );
    assert.equal(imp.code, 0, `image import failed: ${imp.stderr}${imp.stdout}`);
  },
);

test("each node routes the other node's podCIDR via its InternalIP", { skip, timeout: 120_000 }, async () => {
  const c = cluster!;
  const cidr = async (n: string) => JSON.parse(await c.k(['get', 'node', n, '-o', 'json'])).spec.podCIDR as string;
  const [cidr1, cidr2] = [await cidr('mn-1'), await cidr('mn-2')];
  assert.ok(cidr1 && cidr2 && cidr1 !== cidr2);
  await until(
    'host route to mn-2 pods',
    () => spawnSync('ip', ['route', 'show', cidr2], { encoding: 'utf8' }).stdout.includes(`via ${nsIP}`),
    30_000,
    500,
  );
  await until(
    'netns route to mn-1 pods',
    () => spawnSync('ip', ['-n', ns, 'route', 'show', cidr1], { encoding: 'utf8' }).stdout.includes(`via ${hostIP}`),
    30_000,
    500,
  );
});

test(
  "pods on different nodes reach each other by pod IP and see each other's pod IP as the source",
  { skip, timeout: 240_000 },
  async () => {
    const c = cluster!;
    await c.k(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [server('web-a', 'mn-1'), server('web-b', 'mn-2')] }),
    );
    const ipOf = async (name: string) =>
      until(
        `pod ${name} Running with an IP`,
        async () => {
          const p = JSON.parse(await c.k(['get', 'pod', name, '-o', 'json']));
          return p.status?.phase === 'Running' && p.status.podIP ? (p.status.podIP as string) : undefined;
        },
        120_000,
        500,
      ).catch(async (err) => {
        const described = await c.kubectl(['describe', 'pod', name]);
        throw new Error(`${err.message}\n${described.stdout}\nagent mn-2:\n${agentOut.slice(-4000)}`);
      });
    const ipA = await ipOf('web-a');
    const ipB = await ipOf('web-b');
    // (busybox 1.35's wget -T segfaults: the kubectl timeout bounds a hanging request instead.)
    const fetch = async (from: string, ip: string, expect: string) =>
      until(
        `${from} fetching http://${ip}:8080/`,
        async () => {
          const res = await c.kubectl(['exec', from, '--', 'wget', '-qO-', `http://${ip}:8080/`], {
            timeoutMs: 20_000,
          });
          if (res.code !== 0) throw new Error(`${res.stderr}${res.stdout}`);
          return res.stdout.includes(expect) ? res.stdout : undefined;
        },
        60_000,
        1000,
      );
    assert.match(await fetch('web-a', ipB, 'hello from web-b'), /hello from web-b/);
    assert.match(await fetch('web-b', ipA, 'hello from web-a'), /hello from web-a/);
    // busybox httpd -v logs the client address: the pod's, not the node's (no masquerade between pod CIDRs).
    const logsB = await until(
      'web-b logs a request from web-a',
      async () => {
        const res = await c.kubectl(['logs', 'web-b']);
        return res.code === 0 && res.stdout.includes(ipA) ? res.stdout : undefined;
      },
      30_000,
      1000,
    );
    assert.doesNotMatch(logsB, new RegExp(`\\b${hostIP.replace(/\./g, '\\.')}\\b`));
    const logsA = await until(
      'web-a logs a request from web-b',
      async () => {
        const res = await c.kubectl(['logs', 'web-a']);
        return res.code === 0 && res.stdout.includes(ipB) ? res.stdout : undefined;
      },
      30_000,
      1000,
    );
    assert.doesNotMatch(logsA, new RegExp(`\\b${nsIP.replace(/\./g, '\\.')}\\b`));
    await c.k(['delete', 'pod', 'web-a', 'web-b', '--grace-period=1', '--wait=false']);
  },
);

// As flannel's: a stopped agent leaves its routes and chains, so the node's pods keep reaching the
// others while it restarts (an upgrade); `k8ts killall` removes them.
test(
  'a stopped agent keeps its routes and iptables chains; killall removes them',
  { skip, timeout: 180_000 },
  async () => {
    assert.equal(await stopChild(agent, 'SIGTERM', 30_000), 0, agentOut);
    const routes = () => spawnSync('ip', ['-n', ns, 'route', 'show'], { encoding: 'utf8' }).stdout;
    const nat = () =>
      spawnSync('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-S', 'POSTROUTING'], { encoding: 'utf8' }).stdout;
    const podRoute = new RegExp(`^10\\.${x}\\.\\S+ via`, 'm');
    assert.match(routes(), podRoute, 'the routes to other nodes stay while the agent is stopped');
    assert.match(nat(), /-NOMASQ/);
    const r = await run('nsenter', [...inNs, process.execPath, K8TS_BIN, 'killall', '--data-dir', agentDir], {
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(routes(), podRoute, routes());
    assert.doesNotMatch(nat(), /-NOMASQ/, nat());
  },
);
