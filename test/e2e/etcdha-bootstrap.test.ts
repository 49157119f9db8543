// Bootstrap data in the datastore (k3s's way): the first server on an external etcd stores the
// shared files (CA, service-account key, encryption configuration, agent token) there, encrypted
// with a key derived from its token; a second server given only the same --datastore-endpoint
// and --token (no --server) comes up with the same CA and keys. A wrong token, the agent token or
// no token at all is refused with a message saying which token it takes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8TS_BIN, run, startCluster, whoAmIWithToken, type Cluster } from './harness.js';
import { startEtcd, type TestEtcd } from '../support/etcd.js';
import { EtcdClient } from '../../src/storage/etcd/client.js';
import { prefixRangeEnd } from '../../src/storage/etcd/keys.js';

let etcd: TestEtcd;
const clusters: Cluster[] = [];
const dirs: string[] = [];

function datastoreArgs(): string[] {
  const tls = etcd.clientTls!;
  return [
    '--datastore-endpoint',
    etcd.endpoint,
    '--datastore-cafile',
    tls.caFile,
    '--datastore-certfile',
    tls.certFile,
    '--datastore-keyfile',
    tls.keyFile,
  ];
}

const file = (c: Cluster, rel: string) => readFileSync(join(c.dataDir, rel), 'utf8');

before(async () => {
  etcd = await startEtcd({ tls: true });
});

after(async () => {
  for (const c of clusters) await c.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await etcd?.stop();
});

/** `k8ts server` on a fresh data dir that must fail before serving; answers its stderr. */
async function refusedServer(args: string[]): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-bootstrap-refused-'));
  dirs.push(dataDir);
  const r = await run(
    process.execPath,
    [
      K8TS_BIN,
      'server',
      '--data-dir',
      dataDir,
      '--bind-address',
      '127.0.0.1',
      '--https-listen-port',
      '0',
      '--disable-agent',
      '--disable-ingress',
      ...datastoreArgs(),
      ...args,
    ],
    { timeoutMs: 90_000 },
  );
  assert.notEqual(r.code, 0, `the server started:\n${r.stdout}`);
  return r.stderr;
}

test('a second server with the same datastore and token gets the same CA and keys', { timeout: 240_000 }, async () => {
  const first = await startCluster({ args: [...datastoreArgs(), '--agent-token', 'agent-only-secret'] });
  clusters.push(first);
  const token = file(first, 'server/token').trim();

  // One key under /bootstrap/, its value sealed: no PEM text in it.
  const client = new EtcdClient({ endpoints: [etcd.endpoint], ...etcd.clientTls });
  try {
    const prefix = Buffer.from('/bootstrap/');
    const r = await client.range({ key: prefix, rangeEnd: prefixRangeEnd(prefix) });
    assert.equal(r.kvs.length, 1);
    assert.match(r.kvs[0].key.toString(), /^\/bootstrap\/[0-9a-f]{12}$/);
    const value = r.kvs[0].value.toString();
    assert.doesNotMatch(value, /BEGIN|PRIVATE|agent-only-secret/);
    assert.equal((JSON.parse(value) as { kdf: string }).kdf, 'pbkdf2-sha256');
  } finally {
    client.close();
  }

  await first.k(['create', 'namespace', 'team']);
  await first.k(['-n', 'team', 'create', 'secret', 'generic', 'pw', '--from-literal=p=hunter2']);

  // No --server: everything comes from the datastore.
  const second = await startCluster({ args: [...datastoreArgs(), '--token', token] });
  clusters.push(second);
  for (const rel of [
    'server/tls/ca.crt',
    'server/tls/ca.key',
    'server/tls/service-account.key',
    'server/agent-token',
    'server/cred/encryption-config.json',
  ])
    assert.equal(file(second, rel), file(first, rel), rel);
  assert.equal(file(second, 'server/token').trim(), token);

  // Secrets written by one (encrypted at rest with the shared key) are read by the other.
  const pw = await second.k(['-n', 'team', 'get', 'secret', 'pw', '-o', 'jsonpath={.data.p}']);
  assert.equal(Buffer.from(pw.trim(), 'base64').toString(), 'hunter2');
  // A service-account token minted by the first is accepted by the second (same signing key).
  const saToken = (await first.k(['-n', 'team', 'create', 'token', 'default'])).trim();
  const whoami = await whoAmIWithToken(second.url, join(second.dataDir, 'server', 'tls', 'ca.crt'), saToken);
  assert.equal(whoami.stdout.trim(), 'system:serviceaccount:team:default', whoami.stderr);

  // A restart of the second takes nothing new and starts as before.
  await second.restart();
  assert.equal(file(second, 'server/tls/ca.crt'), file(first, 'server/tls/ca.crt'));
  await second.k(['-n', 'team', 'get', 'secret', 'pw']);
});

test('a wrong token, the agent token or no token is refused with a clear message', { timeout: 300_000 }, async () => {
  const first = clusters[0];
  assert.ok(first, 'the first test started a server');
  assert.match(
    await refusedServer(['--token', 'not-the-cluster-token']),
    /the datastore holds the bootstrap data of a cluster whose server token is not the one given \(--token\)/,
  );
  assert.match(
    await refusedServer(['--token', file(first, 'server/agent-token').trim()]),
    /the agent token joins agents only: a server joins with the server token/,
  );
  assert.match(
    await refusedServer([]),
    /the datastore already holds the bootstrap data of a cluster: start this server with --token/,
  );
  // A full token whose secret is right but whose CA hash is not this cluster's.
  const secret = file(first, 'server/token').trim().split('::server:')[1];
  assert.match(
    await refusedServer(['--token', `K10${'0'.repeat(64)}::server:${secret}`]),
    /the token's CA hash does not match this server's CA/,
  );
});
