// `k8ts cluster up -f cluster.yml` over SSH (src/provision): three "machines" as network
// namespaces on a bridge made here, each running Debian's sshd (a key pair the test generates);
// they share this host's filesystem, so each node gets its own data and install directory in the
// file. The file first names a controlplane and one worker; a second worker is added and joins;
// a Deployment spreads over the workers behind a Service that a client in the controlplane's
// namespace requests ten times a second from then on; a changed k8ts_version upgrades every node
// one at a time (cordon, drain, restart, uncordon) and a worker dropped from the file is drained
// and removed, all without one failed request; `cluster remove` leaves no process, directory,
// interface or route behind. Needs root (ip netns), containerd and /usr/sbin/sshd; skipped otherwise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8TS_BIN, freeOctet, realContainersUnavailable, run, until, type RunResult } from './harness.js';
import type { Node, Pod, Service } from 'kubernetes-types/core/v1.js';
import { buildTestImage } from '../../src/agent/images/testimages.js';

const SSHD = '/usr/sbin/sshd';
const skip =
  realContainersUnavailable() ??
  (existsSync(SSHD) ? undefined : 'no /usr/sbin/sshd (Debian package openssh-server)') ??
  (spawnSync('sh', ['-c', 'command -v ip && command -v nft && command -v ssh-keygen'], { stdio: 'ignore' }).status === 0
    ? undefined
    : 'ip/nft/ssh-keygen missing');

const tag = randomBytes(2).toString('hex');
const BRIDGE = `k8cu${tag}br`;
// A /24 and a pod /16 that no route of this host mentions yet.
const net = freeOctet((n) => `10.198.${n}.`, 1, 250);
// Above 198: the pod range must not share its first octets with the machines' network (10.198.x),
// or the machines' own routes read as pod routes left behind.
const pods = freeOctet((n) => `10.${n}.`, 199, 250);
const HOST_IP = `10.198.${net}.254`;

interface Machine {
  name: string;
  ns: string;
  ip: string;
  role: string[];
  sshd?: ChildProcess;
}
const machines: Machine[] = [
  { name: 'cu-cp', ns: `k8cu${tag}-cp`, ip: `10.198.${net}.11`, role: ['controlplane'] },
  { name: 'cu-w1', ns: `k8cu${tag}-w1`, ip: `10.198.${net}.12`, role: ['worker'] },
  { name: 'cu-w2', ns: `k8cu${tag}-w2`, ip: `10.198.${net}.13`, role: ['worker'] },
];
const [cp, w1, w2] = machines;

let dir = '';
let rigUp = false;
const created: string[] = [];
const dataDir = (m: Machine) => join(dir, m.name, 'data');
const installPath = (m: Machine) => join(dir, m.name, 'opt');
const clusterFile = () => join(dir, 'cluster.yml');
const kubeconfig = () => join(dir, 'kube_config_cluster.yml');

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const inNs = (m: Machine) => [`--net=/run/netns/${m.ns}`, '--'];

function writeClusterFile(nodes: Machine[], version: string): void {
  const lines = [
    'cluster_name: e2e',
    `ssh_key_path: ${join(dir, 'id_ed25519')}`,
    `ssh_known_hosts: ${join(dir, 'known_hosts')}`,
    `k8ts_version: ${version}`,
    `cluster_cidr: 10.${pods}.0.0/16`,
    'services:',
    '  server:',
    '    extra_args:',
    '      disable-ingress: true',
    '      disable-dashboard: true',
    '      log-level: warn',
    '  agent:',
    '    extra_args:',
    '      log-level: warn',
    'upgrade_strategy:',
    '  drain: true',
    '  node_drain_input:',
    '    timeout: 120',
    'nodes:',
  ];
  for (const m of nodes) {
    lines.push(
      `  - address: ${m.ip}`,
      '    user: root',
      `    role: [${m.role.join(', ')}]`,
      `    hostname_override: ${m.name}`,
      `    data_dir: ${dataDir(m)}`,
      `    install_path: ${installPath(m)}`,
    );
  }
  writeFileSync(clusterFile(), lines.join('\n') + '\n');
}

/** What each `k8ts cluster` run printed (timestamped progress), for the client's failures. */
const provisionLog: string[] = [];

async function k8tsCluster(verb: 'up' | 'remove'): Promise<RunResult> {
  const r = await run(process.execPath, [K8TS_BIN, 'cluster', verb, '-f', clusterFile()], { timeoutMs: 600_000 });
  provisionLog.push(`--- cluster ${verb}\n${r.stderr}`);
  if (r.code !== 0) throw new Error(`k8ts cluster ${verb} failed (${r.code}):\n${r.stderr.slice(-6000)}${r.stdout}`);
  return r;
}

function kubectl(args: string[], input?: string): Promise<RunResult> {
  return run('kubectl', ['--kubeconfig', kubeconfig(), ...args], { input, timeoutMs: 60_000 });
}

async function k(args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

function startSshd(m: Machine): void {
  const conf = join(dir, `sshd_${m.name}.conf`);
  writeFileSync(
    conf,
    [
      `ListenAddress ${m.ip}:22`,
      `HostKey ${join(dir, 'ssh_host_ed25519_key')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, `sshd_${m.name}.pid`)}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      '',
    ].join('\n'),
  );
  m.sshd = spawn('nsenter', [...inNs(m), SSHD, '-D', '-e', '-f', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  m.sshd.stderr!.on('data', (d: Buffer) => {
    if (process.env.K8TS_TEST_LOGS) process.stderr.write(`sshd ${m.name}: ${d.toString()}`);
  });
}

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-cu-'));
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id_ed25519')]);
  sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'ssh_host_ed25519_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'id_ed25519.pub')));
  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege separation directory
  sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  rigUp = true;
  sh('ip', ['addr', 'add', `${HOST_IP}/24`, 'dev', BRIDGE]);
  sh('ip', ['link', 'set', BRIDGE, 'up']);
  for (const [i, m] of machines.entries()) {
    sh('ip', ['netns', 'add', m.ns]);
    created.push(m.ns);
    const veth = `k8cu${tag}v${i}`;
    sh('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', m.ns]);
    sh('ip', ['link', 'set', veth, 'master', BRIDGE, 'up']);
    sh('ip', ['-n', m.ns, 'addr', 'add', `${m.ip}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', m.ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', m.ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', m.ns, 'route', 'add', 'default', 'via', HOST_IP]);
    startSshd(m);
  }
  for (const m of machines) {
    await until(
      `sshd of ${m.name}`,
      async () =>
        (
          await run('ssh', [
            ...['-i', join(dir, 'id_ed25519'), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no'],
            ...['-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR', `root@${m.ip}`, 'true'],
          ])
        ).code === 0,
      20_000,
      300,
    );
  }
});

after(async () => {
  if (skip) return;
  stopClient?.();
  // Whatever `cluster remove` did not get to: the services' supervisors, then killall per node.
  for (const m of machines) {
    const pidFile = join(dataDir(m), 'service', 'k8ts.pid');
    if (existsSync(pidFile)) {
      const pid = Number(readFileSync(pidFile, 'utf8'));
      try {
        process.kill(pid, 'SIGTERM');
        await new Promise((r) => setTimeout(r, 5000));
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (existsSync(dataDir(m)))
      await run('nsenter', [...inNs(m), process.execPath, K8TS_BIN, 'killall', '--data-dir', dataDir(m)], {
        timeoutMs: 120_000,
      });
  }
  for (const m of machines) m.sshd?.kill('SIGTERM');
  for (const ns of created) spawnSync('ip', ['netns', 'del', ns]);
  if (rigUp) spawnSync('ip', ['link', 'del', BRIDGE]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** kubectl get -o json, typed as the test reads it. */
async function getJson<T>(args: string[]): Promise<T> {
  return JSON.parse(await k([...args, '-o', 'json'])) as T;
}

/** The web pods that are Ready, by node. */
async function readyWebPods(): Promise<string[]> {
  const list = await getJson<{ items: Pod[] }>(['get', 'pods', '-l', 'app=web']);
  return list.items
    .filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
    .map((p) => p.spec!.nodeName!);
}

async function nodesReady(names: string[]): Promise<void> {
  const out = await k(['get', 'nodes', '--no-headers']);
  for (const n of names) assert.match(out, new RegExp(`^${n}\\s+Ready`, 'm'), out);
  assert.equal(out.trim().split('\n').length, names.length, out);
}

async function importBusybox(m: Machine): Promise<void> {
  const tar = join(dir, 'busybox.tar');
  if (!existsSync(tar)) writeFileSync(tar, buildTestImage('busybox').tar);
  const bin = join(installPath(m), 'v1', 'bin', 'k8ts');
  const r = await run(
    'nsenter',
    [...inNs(m), process.execPath, bin, 'image', 'import', '--data-dir', dataDir(m), tar],
    {
      timeoutMs: 120_000,
    },
  );
  assert.equal(r.code, 0, `image import on ${m.name}: ${r.stderr}${r.stdout}`);
}

test('cluster up: a controlplane and a worker from cluster.yml, over SSH', { skip, timeout: 600_000 }, async () => {
  writeClusterFile([cp, w1], 'v1');
  await k8tsCluster('up');
  assert.ok(existsSync(kubeconfig()), 'kube_config_cluster.yml written');
  assert.ok(existsSync(join(dir, 'cluster.k8tsstate')), 'state file written');
  await nodesReady(['cu-cp', 'cu-w1']);
  const node = await getJson<Node>(['get', 'node', 'cu-cp']);
  assert.equal(node.metadata!.labels!['node-role.kubernetes.io/controlplane'], 'true');
  assert.deepEqual(
    (node.spec?.taints ?? []).filter((t) => t.key.startsWith('node-role')),
    [{ key: 'node-role.kubernetes.io/controlplane', value: 'true', effect: 'NoSchedule' }],
  );
  // k8ts was copied: the service runs the node's own copy.
  assert.ok(existsSync(join(installPath(w1), 'v1', 'bin', 'k8ts')));
  assert.match(readFileSync(join(dataDir(w1), 'service', 'k8ts-service.sh'), 'utf8'), /v1\/bin\/k8ts agent --server/);
});

test('cluster up again with a second worker in the file: it joins', { skip, timeout: 600_000 }, async () => {
  writeClusterFile([cp, w1, w2], 'v1');
  const r = await k8tsCluster('up');
  assert.match(r.stderr, /\[cu-cp\] up to date/);
  assert.match(r.stderr, /\[cu-w1\] up to date/);
  await nodesReady(['cu-cp', 'cu-w1', 'cu-w2']);
  const node = await getJson<Node>(['get', 'node', 'cu-w2']);
  assert.equal(node.metadata!.labels!['node-role.kubernetes.io/worker'], 'true');
  assert.equal(node.spec?.taints, undefined);
});

let stopClient: (() => void) | undefined;
let clientDone: Promise<{ ok: number; failed: string[] }> | undefined;

test('a Deployment spreads over the two workers behind a Service', { skip, timeout: 300_000 }, async () => {
  await importBusybox(w1);
  await importBusybox(w2);
  const labels = { app: 'web' };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default' },
    spec: {
      replicas: 3,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 10,
          topologySpreadConstraints: [
            {
              maxSkew: 1,
              topologyKey: 'kubernetes.io/hostname',
              whenUnsatisfiable: 'ScheduleAnyway',
              labelSelector: { matchLabels: labels },
            },
          ],
          containers: [
            {
              name: 'web',
              image: 'k8ts.local/busybox:1.35',
              imagePullPolicy: 'IfNotPresent',
              // Serves on for 3 s after SIGTERM, while the Service stops sending to it.
              command: [
                'sh',
                '-c',
                "hostname > /tmp/index.html; trap 'sleep 3; exit 0' TERM; httpd -f -p 8080 -h /tmp & wait; wait",
              ],
              readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: 'default' },
    spec: { selector: labels, ports: [{ port: 80, targetPort: 8080 }] },
  };
  await k(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [deployment, service] }));
  await until(
    'three web pods Ready on both workers',
    async () => {
      const ready = await readyWebPods();
      return ready.length === 3 && ready.includes('cu-w1') && ready.includes('cu-w2');
    },
    { timeoutMs: 180_000, stepMs: 1000, diag: async () => (await kubectl(['get', 'pods', '-o', 'wide'])).stdout },
  );
  const ip = (await getJson<Service>(['get', 'service', 'web'])).spec!.clusterIP!;
  // The client: in the controlplane's namespace, a fresh connection per request, 10 a second.
  const script = `
    const http = require('node:http');
    let ok = 0, failed = [], stop = false;
    process.on('SIGTERM', () => { stop = true; });
    const once = () => new Promise((res) => {
      const req = http.get({ host: ${JSON.stringify(ip)}, port: 80, path: '/', agent: false, timeout: 3000 }, (r) => {
        let body = ''; r.on('data', (d) => (body += d));
        r.on('end', () => { if (r.statusCode === 200 && body.trim()) ok++; else failed.push(new Date().toISOString() + ' ' + r.statusCode); res(); });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e) => { failed.push(new Date().toISOString() + ' ' + e.message); res(); });
    });
    (async () => {
      while (!stop) { await once(); await new Promise((r) => setTimeout(r, 100)); }
      process.stdout.write(JSON.stringify({ ok, failed }));
    })();`;
  const client = spawn('nsenter', [...inNs(cp), process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  client.stdout.on('data', (d: Buffer) => (out += d.toString()));
  clientDone = new Promise((res, rej) =>
    client.once('exit', (code) => {
      try {
        res(JSON.parse(out) as { ok: number; failed: string[] });
      } catch {
        rej(new Error(`client exited with ${code}: ${out}`));
      }
    }),
  );
  stopClient = () => client.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 3000));
});

test(
  'a changed k8ts_version upgrades the nodes one at a time; the Service answers throughout',
  { skip, timeout: 900_000 },
  async () => {
    assert.ok(clientDone, 'the client runs');
    writeClusterFile([cp, w1, w2], 'v2');
    const r = await k8tsCluster('up');
    // One node at a time: each is drained, restarted and Ready before the next is touched.
    const order = [...r.stderr.matchAll(/\[(cu-\w+)\] (draining|upgraded, Ready and uncordoned)/g)].map(
      (m) => `${m[1]} ${m[2].split(' ')[0]}`,
    );
    assert.deepEqual(order, [
      'cu-cp draining',
      'cu-cp upgraded,',
      'cu-w1 draining',
      'cu-w1 upgraded,',
      'cu-w2 draining',
      'cu-w2 upgraded,',
    ]);
    for (const m of [cp, w1, w2]) {
      assert.match(
        readFileSync(join(dataDir(m), 'service', 'k8ts-service.sh'), 'utf8'),
        /v2\/bin\/k8ts (server|agent) /,
      );
      assert.ok(!existsSync(join(installPath(m), 'v1')), `${m.name}: the old install is removed`);
    }
    await nodesReady(['cu-cp', 'cu-w1', 'cu-w2']);
    const nodes = await getJson<{ items: Node[] }>(['get', 'nodes']);
    for (const n of nodes.items) assert.ok(!n.spec?.unschedulable, `${n.metadata!.name} uncordoned`);
  },
);

test('a worker dropped from the file is drained and removed', { skip, timeout: 600_000 }, async (t) => {
  writeClusterFile([cp, w1], 'v2');
  await k8tsCluster('up');
  await nodesReady(['cu-cp', 'cu-w1']);
  assert.ok(!existsSync(dataDir(w2)), 'its data dir is gone');
  await until(
    'three web pods Ready on cu-w1',
    async () => {
      const ready = await readyWebPods();
      return ready.length === 3 && ready.every((n) => n === 'cu-w1');
    },
    120_000,
    1000,
  );
  await new Promise((r) => setTimeout(r, 2000));
  stopClient!();
  const { ok, failed } = await clientDone!;
  assert.deepEqual(failed, [], `failed requests (of ${ok + failed.length}):\n${provisionLog.join('\n')}`);
  t.diagnostic(`requests answered through the upgrade and the removal: ${ok}, failed: ${failed.length}`);
  assert.ok(ok > 100, `requests answered: ${ok}`);
});

test('cluster remove leaves nothing behind', { skip, timeout: 600_000 }, async () => {
  await k8tsCluster('remove');
  assert.ok(!existsSync(kubeconfig()), 'kube_config_cluster.yml removed');
  assert.ok(!existsSync(join(dir, 'cluster.k8tsstate')), 'state file removed');
  for (const m of machines) {
    assert.ok(!existsSync(dataDir(m)), `${m.name}: data dir removed`);
    assert.ok(!existsSync(installPath(m)), `${m.name}: install path removed`);
    const links = sh('ip', ['-n', m.ns, '-o', 'link', 'show'])
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(':')[1].trim().split('@')[0]);
    assert.deepEqual(links.sort(), ['eth0', 'lo'], `${m.name}: interfaces left`);
    const routes = sh('ip', ['-n', m.ns, 'route', 'show']).trim().split('\n');
    assert.equal(
      routes.filter((l) => l.startsWith(`10.${pods}.`)).length,
      0,
      `${m.name}: pod routes left: ${routes.join('; ')}`,
    );
  }
  // No process runs from the test's directory but the sshds.
  const sshds = new Set(machines.map((m) => m.sshd?.pid));
  const left: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (sshds.has(Number(pid))) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (cmd.includes(dir) && !cmd.includes(`sshd_`)) left.push(`${pid}: ${cmd}`);
  }
  assert.deepEqual(left, [], 'processes left');
});
