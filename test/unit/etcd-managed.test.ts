// The pieces of managed etcd that need no k8ts server: the Cluster and Maintenance.Snapshot calls
// of the gRPC client against a real etcd, snapshot naming and retention, the cron subset of
// scheduled snapshots, --initial-cluster of a joining member, and migrate() from SQLite to etcd.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEtcd, type TestEtcd } from '../support/etcd.js';
import { EtcdClient } from '../../src/storage/etcd/client.js';
import { EtcdBackend } from '../../src/storage/etcd/backend.js';
import { SqliteBackend } from '../../src/storage/sqlite/backend.js';
import { migrate } from '../../src/storage/migrate.js';
import pino from 'pino';
import { SnapshotScheduler, listSnapshots, parseCron, pruneSnapshots, saveSnapshot } from '../../src/etcd/snapshots.js';
import { findEtcdBinary, initialClusterFor } from '../../src/etcd/managed.js';

let etcd: TestEtcd;
let dir: string;
before(async () => {
  etcd = await startEtcd();
  dir = mkdtempSync(join(tmpdir(), 'k8ts-etcd-managed-'));
});
after(async () => {
  await etcd.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('MemberList and MemberAdd/MemberRemove through the Cluster service', async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  try {
    const members = await client.memberList();
    assert.equal(members.length, 1);
    assert.equal(members[0].name, 'test');
    assert.deepEqual(members[0].clientURLs, [etcd.endpoint]);
    assert.ok(members[0].id > 0n);
    // A learner never counts towards quorum, so this single-member etcd keeps serving; its ID
    // round-trips as an unsigned 64-bit value (MemberRemove finds it).
    const added = await client.memberAdd(['http://127.0.0.1:1'], true);
    assert.equal(added.members.length, 2);
    assert.equal(added.member.name, '');
    assert.deepEqual(added.member.peerURLs, ['http://127.0.0.1:1']);
    assert.equal(added.member.isLearner, true);
    const left = await client.memberRemove(added.member.id);
    assert.equal(left.length, 1);
  } finally {
    client.close();
  }
});

test('a snapshot is saved as <prefix>-<node>-<unix> and etcdctl reads it', async () => {
  const client = new EtcdClient({ endpoints: [etcd.endpoint] });
  try {
    await client.put({ key: Buffer.from('snap-key'), value: Buffer.from('v') });
    const s = await saveSnapshot(client, join(dir, 'snaps'), 'node-a', 'etcd-snapshot', new Date(1_700_000_000_000));
    assert.equal(s.name, 'etcd-snapshot-node-a-1700000000');
    assert.ok(s.size > 0);
    const st = spawnSync('etcdctl', ['snapshot', 'status', s.location, '-w', 'json'], {
      encoding: 'utf8',
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    assert.equal(st.status, 0, st.stderr);
    assert.ok((JSON.parse(st.stdout) as { totalKey: number }).totalKey >= 1);
  } finally {
    client.close();
  }
});

test('retention keeps the newest snapshots of one prefix and node', () => {
  const snaps = join(dir, 'retention');
  rmSync(snaps, { recursive: true, force: true });
  const names = [1, 2, 3, 4].map((i) => `etcd-snapshot-n1-${1000 + i}`);
  spawnSync('mkdir', ['-p', snaps]);
  names.forEach((n, i) => {
    writeFileSync(join(snaps, n), 'x');
    utimesSync(join(snaps, n), 1000 + i, 1000 + i);
  });
  writeFileSync(join(snaps, 'etcd-snapshot-other-1'), 'x');
  assert.deepEqual(pruneSnapshots(snaps, 'etcd-snapshot', 'n1', 2), names.slice(0, 2));
  assert.deepEqual(
    listSnapshots(snaps).map((s) => s.name),
    ['etcd-snapshot-other-1', ...names.slice(2)].sort((a, b) => (a === 'etcd-snapshot-other-1' ? -1 : a < b ? -1 : 1)),
  );
});

test('a scheduled snapshot keeps only --etcd-snapshot-retention of its own', async () => {
  const snaps = join(dir, 'scheduled');
  const scheduler = new SnapshotScheduler({
    cron: '0 */12 * * *',
    retention: 2,
    dir: snaps,
    nodeName: 'n1',
    client: () => new EtcdClient({ endpoints: [etcd.endpoint] }),
    logger: pino({ level: 'silent' }),
  });
  for (const t of [1_700_000_000_000, 1_700_000_060_000, 1_700_000_120_000]) await scheduler.runOnce(new Date(t));
  assert.deepEqual(
    listSnapshots(snaps).map((s) => s.name),
    ['etcd-snapshot-n1-1700000060', 'etcd-snapshot-n1-1700000120'],
  );
});

test('cron subset: steps, ranges, lists, and day-of-month OR day-of-week', () => {
  const at = (s: string) => new Date(s);
  const twelve = parseCron('0 */12 * * *');
  assert.ok(twelve(at('2026-01-05T00:00:00')));
  assert.ok(twelve(at('2026-01-05T12:00:30')));
  assert.ok(!twelve(at('2026-01-05T06:00:00')));
  assert.ok(!twelve(at('2026-01-05T12:01:00')));
  const list = parseCron('5,35 9-17/4 * * 1-5');
  assert.ok(list(at('2026-01-05T13:35:00'))); // a Monday
  assert.ok(!list(at('2026-01-04T13:35:00'))); // a Sunday
  assert.ok(!list(at('2026-01-05T11:05:00')));
  const either = parseCron('0 0 1 * 0'); // the 1st, or any Sunday
  assert.ok(either(at('2026-01-04T00:00:00')));
  assert.ok(either(at('2026-01-01T00:00:00')));
  assert.ok(!either(at('2026-01-02T00:00:00')));
  assert.ok(parseCron('* * * * 7')(at('2026-01-04T10:10:00')));
  assert.throws(() => parseCron('* * *'), /want 5 fields/);
  assert.throws(() => parseCron('61 * * * *'), /minute 61 out of range/);
  assert.throws(() => parseCron('x * * * *'), /bad minute/);
});

test('a missing etcd binary is named with the package that has it', () => {
  assert.throws(() => findEtcdBinary('etcd-not-installed'), /etcd-not-installed.*etcd-server/s);
});

test('a joining member lists every started member and itself', () => {
  const m = (name: string, peer: string) => ({ id: 1n, name, peerURLs: [peer], clientURLs: [], isLearner: false });
  assert.equal(
    initialClusterFor(
      [m('a', 'https://10.0.0.1:2380'), m('', 'https://10.0.0.2:2380'), m('', 'https://10.0.0.3:2380')],
      {
        name: 'b',
        peerURL: 'https://10.0.0.2:2380',
      },
    ),
    'a=https://10.0.0.1:2380,b=https://10.0.0.2:2380',
  );
});

test('migrate copies every key from SQLite into etcd with higher resourceVersions', async () => {
  const source = new SqliteBackend(join(dir, 'state.db'));
  await source.start();
  const before = new Map<string, number>();
  for (let i = 0; i < 30; i++) {
    const kv = await source.create(`/core/configmaps/default/cm-${i}`, JSON.stringify({ data: { i } }));
    before.set(kv.key, kv.modRevision);
  }
  // Churn, so the source's revision is well above the fresh etcd's.
  for (let i = 0; i < 200; i++) {
    const cur = (await source.get('/core/configmaps/default/cm-0'))!;
    await source.update(cur.key, JSON.stringify({ data: { i: 0, n: i } }), cur.modRevision);
  }
  const ns = await source.create('/core/namespaces/team', '{"metadata":{"name":"team"}}');
  before.set(ns.key, ns.modRevision);
  const target = new EtcdBackend({ endpoints: [etcd.endpoint], prefix: '/migrated' });
  await target.start();
  try {
    const r = await migrate(source, target, { advanceRevisionTo: (rev) => target.advanceRevisionTo(rev), pageSize: 7 });
    assert.equal(r.copied, 31);
    assert.equal(r.sourceRevision, source.currentRevision());
    assert.equal((await target.list('/core/configmaps/')).items.length, 30);
    const highest = Math.max(...before.values(), r.sourceRevision);
    for (const key of before.keys()) {
      const kv = await target.get(key);
      assert.ok(kv, key);
      assert.ok(kv.modRevision > highest, `${key}: ${kv.modRevision} <= ${highest}`);
      assert.equal(kv.value, (await source.get(key))!.value);
    }
    // Again: nothing new, every key already there with the same value.
    const again = await migrate(source, target);
    assert.deepEqual([again.copied, again.unchanged, again.differing], [0, 31, 0]);
  } finally {
    await target.close();
    await source.close();
  }
});
