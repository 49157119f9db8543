// The snapshot API's small helpers: quantities and times as the snapshot controller shows them,
// snapshot handles, the whole-or-nothing copy, and the CRDs' shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, symlinkSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesToQuantity, contentNameFor, rfc3339FromNanos } from '../../src/client/snapshots.js';
import { SNAPSHOT_CRDS } from '../../src/controllers/snapshot/crds.js';
import { copyTree, parseSnapshotHandle } from '../../src/agent/provisioner/snapshotter.js';

test('restore sizes print as resource.NewQuantity(n, BinarySI) does', () => {
  assert.equal(bytesToQuantity(64 * 1024 * 1024), '64Mi');
  assert.equal(bytesToQuantity(1024 ** 3), '1Gi');
  assert.equal(bytesToQuantity(1536 * 1024), '1536Ki');
  assert.equal(bytesToQuantity(1000), '1000');
  assert.equal(bytesToQuantity(0), '0');
});

test('creation times: nanoseconds to RFC 3339 seconds', () => {
  assert.equal(rfc3339FromNanos(Date.UTC(2026, 0, 2, 3, 4, 5, 678) * 1e6), '2026-01-02T03:04:05Z');
});

test('a dynamic snapshot content is named after the snapshot uid', () => {
  assert.equal(contentNameFor({ metadata: { uid: 'abc' } }), 'snapcontent-abc');
});

test('snapshot handles name a node and one directory', () => {
  assert.deepEqual(parseSnapshotHandle('node-1/snapcontent-x'), { node: 'node-1', dir: 'snapcontent-x' });
  assert.equal(parseSnapshotHandle('node-1/../etc'), undefined);
  assert.equal(parseSnapshotHandle('node-1/a/b'), undefined);
  assert.equal(parseSnapshotHandle('nodir'), undefined);
  assert.equal(parseSnapshotHandle(undefined), undefined);
});

test('copyTree copies a directory whole, symlinks as they are, replacing an older copy', async () => {
  const root = mkdtempSync(join(tmpdir(), 'k8ts-snap-'));
  const src = join(root, 'src');
  mkdirSync(join(src, 'sub'), { recursive: true });
  writeFileSync(join(src, 'sub', 'f'), 'data');
  symlinkSync('/nonexistent', join(src, 'link'));
  const dest = join(root, 'dest');
  mkdirSync(dest);
  writeFileSync(join(dest, 'stale'), 'x');
  await copyTree(src, dest);
  assert.equal(readFileSync(join(dest, 'sub', 'f'), 'utf8'), 'data');
  assert.equal(readlinkSync(join(dest, 'link')), '/nonexistent');
  assert.ok(!existsSync(join(dest, 'stale')));
  assert.ok(!existsSync(`${dest}.tmp`));
});

test('the three CRDs: snapshot.storage.k8s.io/v1, scopes and short names as upstream', () => {
  const byKind = Object.fromEntries(SNAPSHOT_CRDS.map((c) => [c.spec.names.kind, c]));
  assert.equal(byKind.VolumeSnapshotClass.spec.scope, 'Cluster');
  assert.equal(byKind.VolumeSnapshot.spec.scope, 'Namespaced');
  assert.equal(byKind.VolumeSnapshotContent.spec.scope, 'Cluster');
  assert.deepEqual(byKind.VolumeSnapshot.spec.names.shortNames, ['vs']);
  assert.deepEqual(byKind.VolumeSnapshotContent.spec.names.shortNames, ['vsc', 'vscs']);
  assert.deepEqual(byKind.VolumeSnapshotClass.spec.names.shortNames, ['vsclass', 'vsclasses']);
  for (const c of SNAPSHOT_CRDS) assert.equal(c.metadata?.name, `${c.spec.names.plural}.snapshot.storage.k8s.io`);
});
