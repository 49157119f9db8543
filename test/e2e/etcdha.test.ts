// Managed etcd, k3s-style: `--cluster-init` on one server, two more joining with `--server` and
// the token (members on 127.0.0.2 and 127.0.0.3), a 3-member etcd cluster; kill -9 of one etcd
// member (restarted by its server) and of a whole server (kubectl keeps working against the
// others); a snapshot saved and restored with --cluster-reset brings back a deleted object.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8TS_BIN, run, startCluster, until, whoAmIWithToken, type Cluster } from './harness.js';
import { etcdPidFile, stopStrayEtcd } from '../../src/etcd/managed.js';
import { startEtcd } from '../support/etcd.js';
import { Agent, request } from 'undici';
import { freePort } from '../support/ports.js';

interface Member {
  cluster: Cluster;
  ip: string;
  args: string[];
}

const members: Member[] = [];
const dirs: string[] = [];

async function startMember(ip: string, joinTo?: { url: string; token: string }): Promise<Member> {
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-etcdha-'));
  dirs.push(dataDir);
  const args = [
    '--bind-address',
    ip,
    '--node-ip',
    ip,
    '--node-name',
    `server-${ip.split('.').pop()}`,
    '--etcd-client-port',
    String(await freePort(ip)),
    '--etcd-peer-port',
    String(await freePort(ip)),
    ...(joinTo ? ['--server', joinTo.url, '--token', joinTo.token] : ['--cluster-init']),
  ];
  const cluster = await startCluster({ dataDir, args });
  const m = { cluster, ip, args };
  members.push(m);
  return m;
}

function etcdctl(dataDir: string, endpoint: string, args: string[]) {
  const tls = join(dataDir, 'server', 'tls', 'etcd');
  return run(
    'etcdctl',
    [
      '--endpoints',
      endpoint,
      '--cacert',
      join(tls, 'ca.crt'),
      '--cert',
      join(tls, 'client.crt'),
      '--key',
      join(tls, 'client.key'),
      ...args,
    ],
    { env: { ...process.env, ETCDCTL_API: '3' } },
  );
}

function clientURL(m: Member): string {
  const port = m.args[m.args.indexOf('--etcd-client-port') + 1];
  return `https://${m.ip}:${port}`;
}

/** A join endpoint called without verifying the server (only the status matters here). */
async function joinCall(server: string, path: string, authorization?: string, body?: unknown) {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const res = await request(`${server}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      dispatcher,
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.statusCode, text: await res.body.text() };
  } finally {
    await dispatcher.close();
  }
}

const etcdPid = (m: Member) => Number(readFileSync(etcdPidFile(m.cluster.dataDir), 'utf8').trim());

after(async () => {
  for (const m of members) {
    await m.cluster.stop('SIGKILL');
    await stopStrayEtcd(m.cluster.dataDir);
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test(
  'three servers form a 3-member etcd cluster and survive losing one; snapshot restore',
  { timeout: 420_000 },
  async () => {
    const a = await startMember('127.0.0.1');
    const token = readFileSync(join(a.cluster.dataDir, 'server', 'token'), 'utf8').trim();
    const b = await startMember('127.0.0.2', { url: a.cluster.url, token });
    const c = await startMember('127.0.0.3', { url: a.cluster.url, token });

    const list = await etcdctl(a.cluster.dataDir, clientURL(a), ['member', 'list']);
    assert.equal(list.code, 0, list.stderr);
    const lines = list.stdout.trim().split('\n');
    assert.equal(lines.length, 3, list.stdout);
    for (const m of [a, b, c]) assert.ok(list.stdout.includes(clientURL(m)), list.stdout);
    assert.ok(
      lines.every((l) => l.includes(', started, ')),
      list.stdout,
    );

    // The server join endpoints want the token.
    assert.equal((await joinCall(a.cluster.url, '/k8ts/v1/server-bootstrap')).status, 401);
    assert.equal((await joinCall(a.cluster.url, '/k8ts/v1/server-bootstrap', 'Bearer wrong')).status, 401);
    const peer = { name: 'x', peerURL: 'https://127.0.0.9:2380' };
    assert.equal((await joinCall(a.cluster.url, '/k8ts/v1/etcd-members', 'Bearer wrong', peer)).status, 401);

    // One datastore: written through A, read through C; the servers share the cluster CA.
    await a.cluster.k(['create', 'configmap', 'kept', '--from-literal=k=v']);
    assert.equal((await c.cluster.k(['get', 'configmap', 'kept', '-o', 'jsonpath={.data.k}'])).trim(), 'v');
    assert.equal(
      readFileSync(join(a.cluster.dataDir, 'server', 'tls', 'ca.crt'), 'utf8'),
      readFileSync(join(c.cluster.dataDir, 'server', 'tls', 'ca.crt'), 'utf8'),
    );

    // kill -9 of B's etcd: its server restarts it, and B serves again.
    const oldPid = etcdPid(b);
    process.kill(oldPid, 'SIGKILL');
    await until(
      "B's etcd restarted",
      async () => {
        const pid = existsSync(etcdPidFile(b.cluster.dataDir)) ? etcdPid(b) : 0;
        if (!pid || pid === oldPid) return false;
        const h = await etcdctl(b.cluster.dataDir, clientURL(b), ['endpoint', 'health']);
        return h.code === 0;
      },
      { timeoutMs: 60_000, stepMs: 500 },
    );
    assert.equal((await b.cluster.k(['get', 'configmap', 'kept', '-o', 'jsonpath={.data.k}'])).trim(), 'v');

    // kill -9 of server C and its etcd (the machine is lost): A and B keep serving reads and writes.
    const cEtcd = etcdPid(c);
    await c.cluster.stop('SIGKILL');
    process.kill(cEtcd, 'SIGKILL');
    await a.cluster.k(['create', 'configmap', 'after-loss', '--from-literal=k=v']);
    await until(
      'B sees the write made through A after C died',
      async () => (await b.cluster.kubectl(['get', 'configmap', 'after-loss'])).code === 0,
      { timeoutMs: 30_000 },
    );

    // Snapshot through A, delete an object, restore: the object is back.
    const saved = await run(process.execPath, [K8TS_BIN, 'etcd-snapshot', 'save', '--data-dir', a.cluster.dataDir], {});
    assert.equal(saved.code, 0, saved.stderr);
    const file = /saved at (\S+)/.exec(saved.stdout)?.[1];
    assert.ok(file && /etcd-snapshot-\S+-\d+$/.test(file), saved.stdout);
    const ls = await run(process.execPath, [K8TS_BIN, 'etcd-snapshot', 'ls', '--data-dir', a.cluster.dataDir], {});
    assert.ok(ls.stdout.includes(file), ls.stdout);
    await a.cluster.k(['delete', 'configmap', 'kept']);

    // Quorum lost for good (B stopped, C gone): --cluster-reset makes A a cluster of one, data kept.
    await b.cluster.stop('SIGTERM');
    await a.cluster.stop('SIGTERM');
    const resetArgs = [
      K8TS_BIN,
      'server',
      '--data-dir',
      a.cluster.dataDir,
      '--disable-agent',
      '--disable-ingress',
      '--https-listen-port',
      '0',
      ...a.args.filter((x) => x !== '--cluster-init'),
      '--cluster-reset',
    ];
    const reset = await run(process.execPath, resetArgs, { timeoutMs: 120_000 });
    assert.equal(reset.code, 0, reset.stderr + reset.stdout);
    assert.match(reset.stdout, /restart without --cluster-reset/);
    await a.cluster.restart();
    const single = await etcdctl(a.cluster.dataDir, clientURL(a), ['member', 'list']);
    assert.equal(single.stdout.trim().split('\n').length, 1, single.stdout);
    await a.cluster.k(['get', 'configmap', 'after-loss']);
    assert.notEqual((await a.cluster.kubectl(['get', 'configmap', 'kept'])).code, 0);

    // Restoring the snapshot brings the deleted object back.
    await a.cluster.stop('SIGTERM');
    const restore = await run(process.execPath, [...resetArgs, `--cluster-reset-restore-path=${file}`], {
      timeoutMs: 120_000,
    });
    assert.equal(restore.code, 0, restore.stderr + restore.stdout);
    await a.cluster.restart();
    assert.equal((await a.cluster.k(['get', 'configmap', 'kept', '-o', 'jsonpath={.data.k}'])).trim(), 'v');
    const restored = await etcdctl(a.cluster.dataDir, clientURL(a), ['member', 'list']);
    assert.equal(restored.stdout.trim().split('\n').length, 1, restored.stdout);

    // A server killed with -9 leaves its etcd running; `k8ts killall` stops it.
    const aEtcd = etcdPid(a);
    await a.cluster.stop('SIGKILL');
    assert.doesNotThrow(() => process.kill(aEtcd, 0));
    const killed = await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', a.cluster.dataDir], {});
    assert.equal(killed.code, 0, killed.stderr);
    assert.throws(() => process.kill(aEtcd, 0));
  },
);

test(
  'a SQLite cluster moved into etcd keeps its objects, with higher resourceVersions',
  { timeout: 300_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-etcdha-migrate-'));
    dirs.push(dataDir);
    const getRV = async (cl: Cluster, what: string[]) =>
      Number((await cl.k(['get', ...what, '-o', 'jsonpath={.metadata.resourceVersion}'])).trim());
    const sqlite = await startCluster({ dataDir });
    members.push({ cluster: sqlite, ip: '127.0.0.1', args: [] });
    await sqlite.k(['create', 'namespace', 'team']);
    await sqlite.k(['-n', 'team', 'create', 'configmap', 'cfg', '--from-literal=k=v']);
    await sqlite.k(['-n', 'team', 'create', 'secret', 'generic', 'pw', '--from-literal=p=hunter2']);
    const before = await getRV(sqlite, ['-n', 'team', 'configmap', 'cfg']);
    // A SQLite server hands out its files to a token holder but adds no etcd member.
    const token = readFileSync(join(dataDir, 'server', 'token'), 'utf8').trim();
    const memberAdd = await joinCall(sqlite.url, '/k8ts/v1/etcd-members', `Bearer ${token}`, {
      name: 'x',
      peerURL: 'https://127.0.0.9:2380',
    });
    assert.equal(memberAdd.status, 400, memberAdd.text);
    assert.match(memberAdd.text, /--cluster-init/);
    const files = await joinCall(sqlite.url, '/k8ts/v1/server-bootstrap', `Bearer ${token}`);
    assert.equal(files.status, 200);
    assert.ok('server/tls/ca.key' in (JSON.parse(files.text) as { files: Record<string, string> }).files);
    const names = async (cl: Cluster) =>
      (await cl.k(['get', 'namespaces,configmaps,secrets,clusterroles', '-A', '-o', 'name'])).trim().split('\n').sort();
    const objects = await names(sqlite);
    await sqlite.stop('SIGTERM');

    // Into an external etcd with `k8ts datastore migrate`, then a server on it.
    const etcd = await startEtcd();
    try {
      const moved = await run(
        process.execPath,
        [
          K8TS_BIN,
          'datastore',
          'migrate',
          '--data-dir',
          dataDir,
          '--from',
          `sqlite://${join(dataDir, 'server', 'db', 'state.db')}`,
          '--to',
          etcd.endpoint,
        ],
        { timeoutMs: 120_000 },
      );
      assert.equal(moved.code, 0, moved.stderr);
      assert.match(moved.stdout, /\d+ copied, 0 already there/);
      const onEtcd = await startCluster({ dataDir, args: ['--datastore-endpoint', etcd.endpoint] });
      members.push({ cluster: onEtcd, ip: '127.0.0.1', args: [] });
      assert.deepEqual(await names(onEtcd), objects);
      assert.ok((await getRV(onEtcd, ['-n', 'team', 'configmap', 'cfg'])) > before);
      const pw = await onEtcd.k(['-n', 'team', 'get', 'secret', 'pw', '-o', 'jsonpath={.data.p}']);
      assert.equal(Buffer.from(pw.trim(), 'base64').toString(), 'hunter2');
      // A second server on the same external etcd takes the shared files with --server: same CA,
      // same service-account key (a token minted by one is accepted by the other), same objects.
      const second = await startCluster({
        args: [
          '--datastore-endpoint',
          etcd.endpoint,
          '--bind-address',
          '127.0.0.2',
          '--server',
          onEtcd.url,
          '--token',
          readFileSync(join(dataDir, 'server', 'token'), 'utf8').trim(),
        ],
      });
      members.push({ cluster: second, ip: '127.0.0.2', args: [] });
      dirs.push(second.dataDir);
      assert.equal(
        readFileSync(join(second.dataDir, 'server', 'tls', 'service-account.key'), 'utf8'),
        readFileSync(join(dataDir, 'server', 'tls', 'service-account.key'), 'utf8'),
      );
      const saToken = (await onEtcd.k(['-n', 'team', 'create', 'token', 'default'])).trim();
      // Without the admin certificate (which would authenticate first): the token alone.
      const whoami = await whoAmIWithToken(second.url, join(second.dataDir, 'server', 'tls', 'ca.crt'), saToken);
      assert.equal(whoami.stdout.trim(), 'system:serviceaccount:team:default', whoami.stderr);
      assert.equal(
        Buffer.from(
          (await second.k(['-n', 'team', 'get', 'secret', 'pw', '-o', 'jsonpath={.data.p}'])).trim(),
          'base64',
        ).toString(),
        'hunter2',
      );
      await second.stop('SIGTERM');
      await onEtcd.stop('SIGTERM');
    } finally {
      await etcd.stop();
    }

    // k3s's way: --cluster-init on the SQLite server's data dir moves its objects into managed etcd.
    const managed = await startCluster({
      dataDir,
      args: [
        '--cluster-init',
        '--node-ip',
        '127.0.0.1',
        '--etcd-client-port',
        String(await freePort('127.0.0.1')),
        '--etcd-peer-port',
        String(await freePort('127.0.0.1')),
      ],
    });
    members.push({ cluster: managed, ip: '127.0.0.1', args: [] });
    assert.deepEqual(await names(managed), objects);
    assert.ok((await getRV(managed, ['-n', 'team', 'configmap', 'cfg'])) > before);
  },
);
