// `k8ts token rotate` (k3s's `token rotate --token OLD --new-token NEW`) on a server of an external
// etcd: the bootstrap data is sealed again under the new token and moved to its key, the server
// keeps running and its join endpoints take the new token (not the old), a server started later
// with the old token is refused and one with the new token gets the cluster's CA and keys.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8TS_BIN, run, startCluster, type Cluster } from './harness.js';
import { startEtcd, type TestEtcd } from '../support/etcd.js';
import { EtcdClient } from '../../src/storage/etcd/client.js';
import { prefixRangeEnd } from '../../src/storage/etcd/keys.js';
import { bootstrapKey } from '../../src/etcd/bootstrapdata.js';

let etcd: TestEtcd;
const clusters: Cluster[] = [];
const dirs: string[] = [];

function datastoreArgs(): string[] {
  const tls = etcd.clientTls!;
  return [
    ...['--datastore-endpoint', etcd.endpoint, '--datastore-cafile', tls.caFile],
    ...['--datastore-certfile', tls.certFile, '--datastore-keyfile', tls.keyFile],
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

async function bootstrapKeys(): Promise<string[]> {
  const client = new EtcdClient({ endpoints: [etcd.endpoint], ...etcd.clientTls });
  try {
    const prefix = Buffer.from('/bootstrap/');
    const r = await client.range({ key: prefix, rangeEnd: prefixRangeEnd(prefix) });
    return r.kvs.map((kv) => kv.key.toString());
  } finally {
    client.close();
  }
}

/** The status of GET /k8ts/v1/cluster-config on `c` with `token` (a join endpoint that checks it). */
function joinEndpointStatus(c: Cluster, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(`${c.url}/k8ts/v1/cluster-config`, {
      ca: file(c, 'server/tls/ca.crt'),
      headers: { Authorization: `Bearer ${token}` },
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

function rotate(c: Cluster, ...args: string[]) {
  return run(process.execPath, [K8TS_BIN, 'token', 'rotate', '--data-dir', c.dataDir, ...datastoreArgs(), ...args], {
    timeoutMs: 60_000,
  });
}

test('token rotate: new joins need the new token, the running server goes on', { timeout: 300_000 }, async () => {
  const first = await startCluster({ args: datastoreArgs() });
  clusters.push(first);
  const oldToken = file(first, 'server/token').trim();
  const hash = oldToken.slice(3, oldToken.indexOf('::'));
  const oldSecret = oldToken.split('::server:')[1];
  assert.deepEqual(await bootstrapKeys(), [bootstrapKey(oldSecret)]);

  const r = await rotate(first, '--token', oldToken, '--new-token', 'rotated-secret-1');
  assert.equal(r.code, 0, r.stderr);
  const newToken = `K10${hash}::server:rotated-secret-1`;
  assert.match(r.stdout, /Token rotated/);
  assert.equal(file(first, 'server/token').trim(), newToken);
  // The data moved to the new token's key; the old key is gone.
  assert.deepEqual(await bootstrapKeys(), [bootstrapKey('rotated-secret-1')]);

  // The server keeps running, and its join endpoints take the new token, not the old.
  await first.k(['create', 'configmap', 'after-rotate']);
  assert.equal(await joinEndpointStatus(first, newToken), 200);
  assert.equal(await joinEndpointStatus(first, oldToken), 401);

  // Rotating again from the old token is refused: it no longer opens anything.
  const again = await rotate(first, '--token', oldToken, '--new-token', 'rotated-secret-2');
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /holds no bootstrap data for --token/);

  // A server started later with the old token is refused; with the new one it joins.
  const refusedDir = mkdtempSync(join(tmpdir(), 'k8ts-rotate-refused-'));
  dirs.push(refusedDir);
  const refused = await run(
    process.execPath,
    [
      ...[K8TS_BIN, 'server', '--data-dir', refusedDir, '--bind-address', '127.0.0.1', '--https-listen-port', '0'],
      ...['--disable-agent', '--disable-ingress', ...datastoreArgs(), '--token', oldToken],
    ],
    { timeoutMs: 90_000 },
  );
  assert.notEqual(refused.code, 0, `the server started with the old token:\n${refused.stdout}`);
  assert.match(refused.stderr, /whose server token is not the one given/);
  const second = await startCluster({ args: [...datastoreArgs(), '--token', newToken] });
  clusters.push(second);
  assert.equal(file(second, 'server/tls/ca.crt'), file(first, 'server/tls/ca.crt'));
  assert.equal(file(second, 'server/tls/service-account.key'), file(first, 'server/tls/service-account.key'));
  assert.equal(file(second, 'server/token').trim(), newToken);
  await second.k(['get', 'configmap', 'after-rotate']);
});
