// Storage conformance: the same tests against every backend (embedded SQLite, and etcd v3 on a
// server this test starts). Keys are k8ts storage keys (`/<group>/<plural>/…`); the etcd backend
// lays them out as kube-apiserver does, under a --etcd-prefix of its own per test.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '../../src/storage/sqlite/backend.js';
import { EtcdBackend } from '../../src/storage/etcd/backend.js';
import { EtcdClient } from '../../src/storage/etcd/client.js';
import { type Backend, StorageError, type StorageEvent } from '../../src/storage/interface.js';
import { WatchCache } from '../../src/storage/cacher.js';
import { startEtcd, type TestEtcd } from '../support/etcd.js';
import { until } from '../support/until.js';

/** A key of resource `plural` (a built-in, core group). */
const K = (plural: string, rest: string) => `/core/${plural}/${rest}`;

interface Kind {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A fresh, empty store; `reopen` gives a second backend on the same data. */
  fresh(): { open: () => Backend; cleanup: () => void };
}

let etcd: TestEtcd | undefined;
let prefixSeq = 0;

const kinds: Kind[] = [
  {
    name: 'sqlite',
    setup: () => Promise.resolve(),
    teardown: () => Promise.resolve(),
    fresh() {
      const dir = mkdtempSync(join(tmpdir(), 'k8ts-store-'));
      return { open: () => new SqliteBackend(join(dir, 'state.db')), cleanup: () => rmSync(dir, { recursive: true }) };
    },
  },
  {
    name: 'etcd',
    async setup() {
      etcd = await startEtcd();
    },
    async teardown() {
      await etcd?.stop();
    },
    fresh() {
      const prefix = `/k8ts-test-${++prefixSeq}`;
      return {
        open: () =>
          new EtcdBackend({ endpoints: [etcd!.endpoint], prefix, progressIntervalMs: 200, eventTtlSeconds: 2 }),
        cleanup: () => {},
      };
    },
  },
];

for (const kind of kinds) {
  describe(`storage conformance: ${kind.name}`, () => {
    before(() => kind.setup());
    after(() => kind.teardown());

    /** Runs `fn` on a fresh store; `restart` closes the backend and opens a new one on the same data. */
    async function withBackend(fn: (b: Backend, restart: () => Promise<Backend>) => Promise<void>) {
      const store = kind.fresh();
      let current: Backend | undefined;
      const open = async () => {
        const b = store.open();
        await b.start();
        current = b;
        return b;
      };
      const restart = async () => {
        const b = current;
        current = undefined;
        await b?.close();
        return open();
      };
      try {
        await fn(await open(), restart);
      } finally {
        await current?.close().catch(() => {});
        store.cleanup();
      }
    }

    test('create, conditional update and delete with one global revision', () =>
      withBackend(async (b) => {
        const a = await b.create(K('configmaps', 'a'), '1');
        const c = await b.create(K('configmaps', 'c'), '1');
        assert.ok(c.modRevision > a.modRevision);
        assert.equal(a.createRevision, a.modRevision);
        await assert.rejects(
          b.create(K('configmaps', 'a'), '2'),
          (e: StorageError) => e.code === 'KeyExists' && e.current!.value === '1',
        );
        const a2 = await b.update(K('configmaps', 'a'), '2', a.modRevision);
        assert.equal(a2.createRevision, a.modRevision);
        assert.ok(a2.modRevision > c.modRevision);
        await assert.rejects(
          b.update(K('configmaps', 'a'), '3', a.modRevision),
          (e: StorageError) =>
            e.code === 'Conflict' && e.current!.value === '2' && e.current!.modRevision === a2.modRevision,
        );
        await assert.rejects(b.update(K('configmaps', 'missing'), '3', 1), (e: StorageError) => e.code === 'NotFound');
        await assert.rejects(
          b.delete(K('configmaps', 'a'), a.modRevision),
          (e: StorageError) => e.code === 'Conflict' && e.current!.value === '2',
        );
        await assert.rejects(b.delete(K('configmaps', 'missing')), (e: StorageError) => e.code === 'NotFound');
        const del = await b.delete(K('configmaps', 'a'), a2.modRevision);
        assert.equal(del.deleted.value, '2');
        assert.equal(del.deleted.modRevision, a2.modRevision);
        assert.equal(del.deleted.createRevision, a.modRevision);
        assert.equal(await b.get(K('configmaps', 'a')), null);
        assert.equal((await b.get(K('configmaps', 'c')))!.value, '1');
        assert.equal(b.currentRevision(), del.revision);
        // Unconditional delete.
        await b.delete(K('configmaps', 'c'));
        assert.equal(await b.get(K('configmaps', 'c')), null);
      }));

    test('concurrent writes are each acknowledged with their own revision', () =>
      withBackend(async (b) => {
        const revs = await Promise.all(
          Array.from({ length: 300 }, (_, i) => b.create(K('secrets', `k${String(i).padStart(4, '0')}`), `v${i}`)),
        );
        assert.equal(new Set(revs.map((r) => r.modRevision)).size, 300);
        const all = await b.list(K('secrets', ''));
        assert.equal(all.items.length, 300);
        assert.ok(all.revision >= Math.max(...revs.map((r) => r.modRevision)));
      }));

    test('list paginates and reads history at an older revision', () =>
      withBackend(async (b) => {
        for (let i = 0; i < 10; i++) await b.create(K('pods', `ns/${i}`), `a${i}`);
        await b.create(K('pods', 'other/x'), 'elsewhere');
        const rev = b.currentRevision();
        await b.update(K('pods', 'ns/3'), 'changed', (await b.get(K('pods', 'ns/3')))!.modRevision);
        await b.delete(K('pods', 'ns/4'));
        await b.create(K('pods', 'ns/99'), 'new');
        const page1 = await b.list(K('pods', 'ns/'), { revision: rev, limit: 4 });
        assert.deepEqual(
          page1.items.map((i) => i.value),
          ['a0', 'a1', 'a2', 'a3'],
        );
        assert.equal(page1.more, true);
        assert.equal(page1.revision, rev);
        assert.equal(page1.items[3].key, K('pods', 'ns/3'));
        const page2 = await b.list(K('pods', 'ns/'), { revision: rev, after: page1.items[3].key, limit: 4 });
        assert.deepEqual(
          page2.items.map((i) => i.value),
          ['a4', 'a5', 'a6', 'a7'],
        );
        const rest = await b.list(K('pods', 'ns/'), { revision: rev, after: page2.items[3].key });
        assert.deepEqual(
          rest.items.map((i) => i.value),
          ['a8', 'a9'],
        );
        assert.equal(rest.more, false);
        const now = await b.list(K('pods', 'ns/'));
        assert.ok(now.items.some((i) => i.value === 'changed'));
        assert.ok(!now.items.some((i) => i.key === K('pods', 'ns/4')));
        assert.ok(now.items.some((i) => i.key === K('pods', 'ns/99')));
        assert.equal((await b.list(K('pods', ''))).items.length, 11);
      }));

    test('watch replays from a revision then goes live, without gap or duplicate', () =>
      withBackend(async (b) => {
        await b.create(K('configmaps', 'w/a'), '1');
        const from = b.currentRevision();
        await b.create(K('configmaps', 'w/b'), '1');
        await b.update(K('configmaps', 'w/b'), '2', b.currentRevision());
        const seen: StorageEvent[] = [];
        const stop = await b.watch(K('configmaps', 'w/'), from, (evs) => seen.push(...evs));
        await b.delete(K('configmaps', 'w/a'));
        await b.create(K('secrets', 'w/x'), '1');
        await b.create(K('configmaps', 'w/c'), '1');
        stop();
        await b.create(K('configmaps', 'w/d'), '1');
        assert.deepEqual(
          seen.map((e) => `${e.type} ${e.key} ${e.value} ${e.prevValue}`),
          [
            `put ${K('configmaps', 'w/b')} 1 undefined`,
            `put ${K('configmaps', 'w/b')} 2 1`,
            `delete ${K('configmaps', 'w/a')} 1 1`,
            `put ${K('configmaps', 'w/c')} 1 undefined`,
          ],
        );
        const revs = seen.map((e) => e.revision);
        assert.deepEqual(
          revs,
          [...revs].sort((x, y) => x - y),
        );
        assert.equal(seen[0].createRevision, seen[0].revision);
        assert.equal(seen[1].createRevision, seen[0].revision);
        // Resuming at the last revision seen gives only what came after.
        const resumed: string[] = [];
        const stop2 = await b.watch(K('configmaps', 'w/'), revs[revs.length - 1], (evs) =>
          resumed.push(...evs.map((e) => e.key)),
        );
        stop2();
        assert.deepEqual(resumed, [K('configmaps', 'w/d')]);
      }));

    test("compaction keeps each key's state at the compacted revision, older reads are Compacted", () =>
      withBackend(async (b) => {
        const k = await b.create(K('configmaps', 'c/k'), 'v1');
        await b.create(K('configmaps', 'c/gone'), 'x');
        await b.delete(K('configmaps', 'c/gone'));
        const mid = b.currentRevision();
        await b.update(K('configmaps', 'c/k'), 'v2', k.modRevision);
        await b.compact(mid);
        assert.equal(b.compactedRevision(), mid);
        const atMid = await b.list(K('configmaps', 'c/'), { revision: mid });
        assert.deepEqual(
          atMid.items.map((i) => i.value),
          ['v1'],
        );
        assert.deepEqual(
          (await b.list(K('configmaps', 'c/'))).items.map((i) => i.value),
          ['v2'],
        );
        await assert.rejects(
          b.list(K('configmaps', 'c/'), { revision: mid - 1 }),
          (e: StorageError) => e.code === 'Compacted' && e.compactedRevision === mid,
        );
        await assert.rejects(
          b.watch(K('configmaps', 'c/'), mid - 1, () => {}),
          (e: StorageError) => e.code === 'Compacted',
        );
        const seen: string[] = [];
        const stop = await b.watch(K('configmaps', 'c/'), mid, (evs) => seen.push(...evs.map((e) => e.value)));
        stop();
        assert.deepEqual(seen, ['v2']);
      }));

    test('data, revisions and watch history survive a restart of the backend', () =>
      withBackend(async (b, restart) => {
        await b.create(K('configmaps', 'r/a'), '1');
        const from = b.currentRevision();
        await b.create(K('configmaps', 'r/b'), '2');
        const rev = b.currentRevision();
        const b2 = await restart();
        assert.equal(b2.currentRevision(), rev);
        assert.equal((await b2.get(K('configmaps', 'r/a')))!.value, '1');
        const seen: string[] = [];
        const stop = await b2.watch(K('configmaps', 'r/'), from, (evs) => seen.push(...evs.map((e) => e.key)));
        const next = await b2.create(K('configmaps', 'r/c'), '3');
        assert.ok(next.modRevision > rev);
        stop();
        assert.deepEqual(seen, [K('configmaps', 'r/b'), K('configmaps', 'r/c')]);
      }));

    test('watch cache serves state and resumes watchers from history', () =>
      withBackend(async (b) => {
        await b.create(K('configmaps', 'x/a'), JSON.stringify({ metadata: { name: 'a' } }));
        const cache = new WatchCache(b, K('configmaps', ''), (_k, v, rev) => ({
          ...JSON.parse(v),
          metadata: { ...JSON.parse(v).metadata, resourceVersion: String(rev) },
        }));
        await cache.start();
        assert.equal(cache.list().length, 1);
        const from = cache.revision;
        await b.create(K('configmaps', 'x/b'), JSON.stringify({ metadata: { name: 'b' } }));
        await b.delete(K('configmaps', 'x/a'));
        // Acknowledged writes are in the cache already.
        assert.deepEqual(
          cache.list().map((s) => s.obj.metadata.name),
          ['b'],
        );
        const types: string[] = [];
        const stop = cache.watch(from, { onEvent: (e) => types.push(`${e.type}:${e.cur.obj.metadata.name}`) });
        await b.create(K('configmaps', 'x/c'), JSON.stringify({ metadata: { name: 'c' } }));
        await new Promise((r) => setImmediate(r)); // live events fan out after the write's acknowledgement
        stop();
        assert.deepEqual(types, ['ADDED:b', 'DELETED:a', 'ADDED:c']);
        assert.deepEqual(
          cache.list().map((s) => s.obj.metadata.name),
          ['b', 'c'],
        );
        cache.stop();
      }));

    test('watch cache: a namespace-scoped list is sorted and complete whether or not keys changed since', () =>
      withBackend(async (b) => {
        const cache = new WatchCache(b, K('configmaps', ''), (_k, v) => JSON.parse(v));
        await cache.start();
        const names = (prefix: string) => cache.list(K('configmaps', prefix)).map((s) => s.obj.metadata.name);
        for (const key of ['y/m', 'x/c', 'xx/a', 'x/a', 'y/a', 'x/b'])
          await b.create(K('configmaps', key), JSON.stringify({ metadata: { name: key } }));
        assert.deepEqual(names('x/'), ['x/a', 'x/b', 'x/c']); // keys changed: picked out and sorted
        assert.deepEqual(
          cache.list().map((s) => s.obj.metadata.name),
          ['x/a', 'x/b', 'x/c', 'xx/a', 'y/a', 'y/m'],
        );
        assert.deepEqual(names('x/'), ['x/a', 'x/b', 'x/c']); // from the full sort
        await b.delete(K('configmaps', 'x/b'));
        await b.create(K('configmaps', 'y/b'), JSON.stringify({ metadata: { name: 'y/b' } }));
        assert.deepEqual(names('x/'), ['x/a', 'x/c']);
        assert.deepEqual(names('y/'), ['y/a', 'y/b', 'y/m']);
        cache.stop();
      }));

    if (kind.name !== 'etcd') return;

    test('etcd: keys are laid out as kube-apiserver lays them out', () =>
      withBackend(async (b) => {
        await b.create('/core/configmaps/default/cm', '{}');
        await b.create('/core/services/default/svc', '{}');
        await b.create('/core/endpoints/default/svc', '{}');
        await b.create('/core/nodes/n1', '{}');
        await b.create('/apps/deployments/default/d', '{}');
        await b.create('/example.com/widgets/default/w', '{}');
        const client = new EtcdClient({ endpoints: [etcd!.endpoint] });
        try {
          const prefix = `/k8ts-test-${prefixSeq}`;
          const root = Buffer.from(`${prefix}/`);
          const r = await client.range({ key: root, rangeEnd: Buffer.from(`${prefix}0`) });
          assert.deepEqual(
            r.kvs.map((kv) => kv.key.toString().slice(prefix.length)),
            [
              '/configmaps/default/cm',
              '/deployments/default/d',
              '/example.com/widgets/default/w',
              '/minions/n1',
              '/services/endpoints/default/svc',
              '/services/specs/default/svc',
            ],
          );
        } finally {
          client.close();
        }
      }));

    test('etcd: the replay log is bounded; watches from before it are Compacted, later ones replay', async () => {
      const b = new EtcdBackend({
        endpoints: [etcd!.endpoint],
        prefix: `/k8ts-test-${++prefixSeq}`,
        maxLoggedEvents: 10,
      });
      await b.start();
      try {
        const start = b.currentRevision();
        const revs: number[] = [];
        for (let i = 0; i < 12; i++) revs.push((await b.create(`/core/configmaps/default/c${i}`, '{}')).modRevision);
        await assert.rejects(
          b.watch('/core/configmaps/', start, () => {}),
          (e: StorageError) => e.code === 'Compacted',
        );
        const seen: string[] = [];
        const stop = await b.watch('/core/configmaps/', revs[9], (events) => seen.push(...events.map((e) => e.key)));
        stop();
        assert.deepEqual(seen, ['/core/configmaps/default/c10', '/core/configmaps/default/c11']);
      } finally {
        await b.close();
      }
    });

    test('etcd: progress notifications move the revision past writes outside the prefix', () =>
      withBackend(async (b) => {
        const client = new EtcdClient({ endpoints: [etcd!.endpoint] });
        try {
          const put = await client.put({ key: Buffer.from('/elsewhere/x'), value: Buffer.from('1') });
          assert.ok(b.currentRevision() < put.header.revision);
          await until('revision past the outside write', () => b.currentRevision() >= put.header.revision, 5000);
        } finally {
          client.close();
        }
      }));

    test('etcd: Events are written with a lease and expire after --event-ttl', () =>
      withBackend(async (b) => {
        const deleted: string[] = [];
        const stop = await b.watch('/core/events/', b.currentRevision(), (evs) =>
          deleted.push(...evs.filter((e) => e.type === 'delete').map((e) => e.key)),
        );
        await b.create('/core/events/default/e1', '{"reason":"Started"}');
        await b.create('/core/configmaps/default/stays', '{}');
        await until('the Event expires', () => deleted.length > 0, 15_000);
        stop();
        assert.deepEqual(deleted, ['/core/events/default/e1']);
        assert.equal(await b.get('/core/events/default/e1'), null);
        assert.ok(await b.get('/core/configmaps/default/stays'));
      }));

    test('etcd: the backend rides out an etcd restart', () =>
      withBackend(async (b) => {
        const seen: string[] = [];
        const stop = await b.watch(K('configmaps', 'e/'), b.currentRevision(), (evs) =>
          seen.push(...evs.map((e) => e.key)),
        );
        await b.create(K('configmaps', 'e/before'), '1');
        await etcd!.restart();
        // The first call after the restart may find the connection still re-establishing.
        await until(
          'a write after the restart',
          async () => {
            try {
              await b.create(K('configmaps', 'e/after'), '1');
              return true;
            } catch (err) {
              if (err instanceof StorageError && err.code === 'KeyExists') return true;
              return false;
            }
          },
          20_000,
        );
        stop();
        assert.deepEqual(seen, [K('configmaps', 'e/before'), K('configmaps', 'e/after')]);
      }));
  });
}

describe('etcd client', () => {
  let plain: TestEtcd;
  let secure: TestEtcd;
  before(async () => {
    [plain, secure] = await Promise.all([startEtcd(), startEtcd({ tls: true })]);
  });
  after(async () => {
    await Promise.all([plain?.stop(), secure?.stop()]);
  });

  test('fails over to the next endpoint when the first is unreachable', async () => {
    const dead = `http://127.0.0.1:${new URL(plain.endpoint).port === '1' ? 2 : 1}`;
    const b = new EtcdBackend({ endpoints: [dead, plain.endpoint], prefix: '/failover' });
    await b.start();
    try {
      const kv = await b.create(K('configmaps', 'f/a'), '1');
      assert.equal((await b.get(K('configmaps', 'f/a')))!.modRevision, kv.modRevision);
    } finally {
      await b.close();
    }
  });

  test('speaks TLS with the given CA, client certificate and key', async () => {
    const b = new EtcdBackend({ endpoints: [secure.endpoint], prefix: '/tls', ...secure.clientTls });
    await b.start();
    try {
      await b.create(K('configmaps', 't/a'), '1');
      assert.equal((await b.list(K('configmaps', 't/'))).items.length, 1);
    } finally {
      await b.close();
    }
    // Without the client certificate etcd refuses the connection.
    const anonymous = new EtcdBackend({
      endpoints: [secure.endpoint],
      prefix: '/tls',
      caFile: secure.clientTls!.caFile,
      timeoutMs: 3000,
    });
    await assert.rejects(anonymous.start());
    await anonymous.close();
  });

  test('grants and renews leases', async () => {
    const client = new EtcdClient({ endpoints: [plain.endpoint] });
    try {
      const lease = await client.leaseGrant(30);
      assert.ok(lease.id > 0n);
      assert.equal(lease.ttl, 30);
      assert.equal(await client.leaseKeepAliveOnce(lease.id), 30);
      const status = await client.status();
      assert.match(status.version, /^3\./);
    } finally {
      client.close();
    }
  });
});
