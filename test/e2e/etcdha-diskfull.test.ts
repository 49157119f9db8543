// Disk full on a server's data dir (embedded SQLite, the default datastore): the data dir is a
// small tmpfs mounted here; once a filler file takes the free space, writes fail with a 5xx
// Status that says the disk is full, nothing acknowledged is lost (nor anything refused stored),
// a watch running throughout sees every acknowledged write once, and writes succeed again when
// the space comes back, also after a restart. Needs root (mount); skipped otherwise.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, startCluster, until, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';
import type { Status } from 'kubernetes-types/meta/v1.js';

interface FillList {
  metadata: { resourceVersion: string };
  items: { metadata: { name: string }; data: { blob: string } }[];
}

const mountDir = mkdtempSync(join(tmpdir(), 'k8ts-diskfull-'));
const dataDir = join(mountDir, 'data');
let mounted = false;
let cluster: Cluster | undefined;
let unavailable: string | undefined;

before(async () => {
  const r = await run('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'tmpfs', mountDir], {});
  if (r.code !== 0) unavailable = `cannot mount a tmpfs (root needed): ${r.stderr.trim()}`;
  else mounted = true;
});

after(async () => {
  await cluster?.stop('SIGKILL');
  if (mounted) await run('umount', ['-l', mountDir], {});
  rmSync(mountDir, { recursive: true, force: true });
});

const NS = 'fill';
const body = (name: string, size: number) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels: { fill: 'yes' } },
  data: { blob: 'x'.repeat(size) },
});

/** A watch on the namespace's ConfigMaps from `rv`, recording ADDED names (with repeats). */
function watchAdded(raw: RawClient, rv: string) {
  const added: string[] = [];
  let buffered = '';
  const req = https.request(
    `${raw.base}/api/v1/namespaces/${NS}/configmaps?labelSelector=fill&watch=1&resourceVersion=${rv}`,
    {
      agent: raw.agent,
    },
  );
  req.on('response', (res) => {
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const ev = JSON.parse(line) as { type: string; object: { metadata: { name: string } } };
        if (ev.type === 'ADDED') added.push(ev.object.metadata.name);
      }
    });
  });
  req.on('error', () => undefined); // ends with the test
  req.end();
  return { added, close: () => req.destroy() };
}

/** Fills the file system but for `leaveBytes`; answers the filler's path. */
function fill(leaveBytes: number): string {
  const filler = join(mountDir, 'filler');
  const st = statfsSync(mountDir);
  const free = st.bavail * st.bsize;
  writeFileSync(filler, Buffer.alloc(Math.max(0, free - leaveBytes)));
  return filler;
}

test(
  'disk full: writes fail with a clear 5xx, nothing acknowledged is lost, writes resume',
  { timeout: 300_000 },
  async (t) => {
    if (unavailable) return t.skip(unavailable);
    cluster = await startCluster({ dataDir });
    const raw = rawClient(cluster.kubeconfig);
    assert.equal((await raw.json('POST', '/api/v1/namespaces', { metadata: { name: NS } })).status, 201);
    const list = await raw.json('GET', `/api/v1/namespaces/${NS}/configmaps?labelSelector=fill`);
    const watch = watchAdded(raw, (list.body as FillList).metadata.resourceVersion);

    const acknowledged = new Map<string, number>();
    const refused: string[] = [];
    const filler = fill(2 * 1024 * 1024);
    // Writes of 64 KiB until several in a row are refused (the space goes, as WAL pages do).
    let failure: { status: number; body: Status } | undefined;
    let refusedInRow = 0;
    for (let i = 0; refusedInRow < 5 && i < 2000; i++) {
      const name = `cm-${i}`;
      const r = await raw.json('POST', `/api/v1/namespaces/${NS}/configmaps`, body(name, 64 * 1024));
      if (r.status === 201) {
        acknowledged.set(name, 64 * 1024);
        refusedInRow = 0;
      } else {
        assert.ok(r.status >= 500, `a refused write is a 5xx, got ${r.status}: ${JSON.stringify(r.body)}`);
        failure ??= { status: r.status, body: r.body as Status };
        refused.push(name);
        refusedInRow++;
      }
    }
    assert.ok(failure, 'writes never failed: the disk never filled');
    assert.ok(acknowledged.size > 0, 'no write succeeded before the disk filled');
    t.diagnostic(`${acknowledged.size} writes acknowledged, then ${failure.status}: ${failure.body.message}`);
    assert.equal(failure.body.kind, 'Status');
    assert.equal(failure.body.status, 'Failure');
    assert.match(failure.body.message ?? '', /disk is full|database or disk is full|space/i);
    // Reads go on meanwhile.
    const during = await raw.json('GET', `/api/v1/namespaces/${NS}/configmaps?labelSelector=fill`);
    assert.equal(during.status, 200);
    const names = (l: { body: { items: { metadata: { name: string } }[] } }) =>
      new Set(l.body.items.map((o) => o.metadata.name));
    assert.deepEqual(names(during), new Set(acknowledged.keys()));

    // Space comes back: writes succeed again.
    rmSync(filler);
    const after = await until(
      'a write after the space came back',
      async () => {
        const r = await raw.json('POST', `/api/v1/namespaces/${NS}/configmaps`, body('after-space', 16));
        return r.status === 201 || r.status === 409;
      },
      60_000,
      500,
    );
    assert.ok(after);
    acknowledged.set('after-space', 16);
    // The watch saw each acknowledged write once and none of the refused ones.
    await until(
      'the watch caught up',
      () => acknowledged.size === new Set(watch.added).size && watch.added.includes('after-space'),
      30_000,
    );
    watch.close();
    assert.equal(watch.added.length, new Set(watch.added).size, 'no duplicate ADDED events');
    for (const name of refused) assert.ok(!watch.added.includes(name), `refused ${name} was never watched`);

    // After a restart (the server stopped cleanly) every acknowledged object is there, in full.
    await cluster.restart();
    const raw2 = rawClient(cluster.kubeconfig);
    const stored = await raw2.json('GET', `/api/v1/namespaces/${NS}/configmaps?labelSelector=fill`);
    assert.equal(stored.status, 200);
    assert.deepEqual(names(stored), new Set(acknowledged.keys()));
    for (const o of (stored.body as FillList).items)
      assert.equal(o.data.blob.length, acknowledged.get(o.metadata.name));
    assert.equal(
      (await raw2.json('POST', `/api/v1/namespaces/${NS}/configmaps`, body('after-restart', 16))).status,
      201,
    );
  },
);
