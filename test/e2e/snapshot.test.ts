// Volume snapshots, clones and expansion end to end with real containers (containerd): the
// snapshot.storage.k8s.io CRDs the server installs, the snapshot controller binding a
// VolumeSnapshot to its content, the node agent's local-path driver copying the volume, a claim
// restored from the snapshot holding the data as it was, a clone holding the data as it is, a
// pre-provisioned content, deletion policies, and a claim grown in place.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { PersistentVolume, PersistentVolumeClaim, Pod } from 'kubernetes-types/core/v1.js';
import { TEST_IMAGES } from '../../src/agent/images/testimages.js';
import type { Stored } from '../../src/client/types.js';
import type { VolumeSnapshot, VolumeSnapshotContent } from '../../src/client/snapshots.js';
import {
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
  waitForReadyNode,
  type Cluster,
} from './harness.js';

const BUSYBOX = TEST_IMAGES.busybox;
const NS = 'snap';

const claim = (name: string, size: string, dataSource = '') => `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}, namespace: ${NS}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: ${size}}}
${dataSource}`;

/** A pod that runs `script` once with the claim at /data. */
const pod = (name: string, claimName: string, script: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${NS}}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: ${BUSYBOX}
    imagePullPolicy: IfNotPresent
    command: [sh, -c, ${JSON.stringify(script)}]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: ${claimName}}}]
`;

/** What kubectl prints for the objects this test reads (undefined: not found). */
async function json<T = Pod>(cluster: Cluster, args: string[]): Promise<Stored<T> | undefined> {
  const r = await cluster.kubectl([...args, '-o', 'json']);
  return r.code === 0 ? (JSON.parse(r.stdout) as Stored<T>) : undefined;
}

/** Runs a pod to completion and returns its output. */
async function runPod(cluster: Cluster, name: string, claimName: string, script: string): Promise<string> {
  await cluster.k(['apply', '-f', '-'], pod(name, claimName, script));
  await until(
    `pod ${name} to succeed`,
    async () => {
      const p = await json(cluster, ['get', 'pod', '-n', NS, name]);
      if (p?.status?.phase === 'Failed') throw new Error(`pod ${name} failed: ${JSON.stringify(p.status)}`);
      return p?.status?.phase === 'Succeeded';
    },
    180_000,
    500,
  );
  return cluster.k(['logs', '-n', NS, name]);
}

const snapshotYaml = (name: string, source: string) => `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: ${name}, namespace: ${NS}}
spec:
  source: {${source}}
`;

async function readySnapshot(cluster: Cluster, name: string): Promise<Stored<VolumeSnapshot>> {
  return until(
    `snapshot ${name} ready`,
    async () => {
      const s = await json<VolumeSnapshot>(cluster, ['get', 'volumesnapshot', '-n', NS, name]);
      return s?.status?.readyToUse === true ? s : undefined;
    },
    120_000,
    300,
  );
}

test(
  'a snapshot restores the data as it was; a clone copies it as it is; a claim grows',
  { timeout: 600_000 },
  async (t) => {
    const why = realContainersUnavailable();
    if (why) return t.skip(why);
    const cluster = await startCluster({ agent: true });
    try {
      await waitForReadyNode(cluster);
      await importTestImages(cluster, ['busybox']);
      await cluster.k(['create', 'namespace', NS]);
      // The CRDs are the snapshot controller's to install: served moments after start.
      await until(
        'the snapshot CRDs',
        async () =>
          (
            await cluster.kubectl(['apply', '-f', '-'], {
              input: `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata:
  name: local-path
  annotations: {snapshot.storage.kubernetes.io/is-default-class: "true"}
driver: k8ts.io/local-path
deletionPolicy: Delete
`,
            })
          ).code === 0,
        60_000,
        500,
      );

      await cluster.k(['apply', '-f', '-'], claim('data', '64Mi'));
      assert.equal((await runPod(cluster, 'write1', 'data', 'echo old > /data/file; cat /data/file')).trim(), 'old');

      // Dynamic snapshot with the default class.
      await cluster.k(['apply', '-f', '-'], snapshotYaml('snap1', 'persistentVolumeClaimName: data'));
      const snap = await readySnapshot(cluster, 'snap1');
      assert.equal(snap.spec?.volumeSnapshotClassName, 'local-path', 'the default class is written into the spec');
      assert.equal(snap.status?.restoreSize, '64Mi');
      assert.match(snap.status?.creationTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(snap.status?.boundVolumeSnapshotContentName, `snapcontent-${snap.metadata.uid}`);
      assert.deepEqual([...(snap.metadata.finalizers ?? [])].sort(), [
        'snapshot.storage.kubernetes.io/volumesnapshot-as-source-protection',
        'snapshot.storage.kubernetes.io/volumesnapshot-bound-protection',
      ]);
      const content = await json<VolumeSnapshotContent>(cluster, [
        'get',
        'volumesnapshotcontent',
        snap.status?.boundVolumeSnapshotContentName ?? '',
      ]);
      assert.equal(content?.spec?.volumeSnapshotRef?.uid, snap.metadata.uid);
      assert.equal(content?.spec?.deletionPolicy, 'Delete');
      assert.equal(content?.spec?.driver, 'k8ts.io/local-path');
      assert.equal(content?.status?.readyToUse, true);
      assert.equal(content?.status?.restoreSize, 64 * 1024 * 1024);
      assert.ok(
        content?.metadata.finalizers?.includes('snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection'),
      );
      const snapshotDir = join(cluster.dataDir, 'storage', 'snapshots', content?.metadata.name ?? '');
      assert.ok(existsSync(join(snapshotDir, 'file')), `the copy at ${snapshotDir}`);
      // The source claim's protection goes once the snapshot is taken.
      await until(
        'the pvc-as-source finalizer removed',
        async () => {
          const c = await json<PersistentVolumeClaim>(cluster, ['get', 'pvc', '-n', NS, 'data']);
          return !c?.metadata.finalizers?.includes('snapshot.storage.kubernetes.io/pvc-as-source-protection');
        },
        60_000,
        300,
      );
      assert.match(await cluster.k(['get', 'volumesnapshot', '-n', NS]), /^NAME\s+READYTOUSE\s+SOURCEPVC\s+/m);

      // The data changes after the snapshot.
      assert.equal((await runPod(cluster, 'write2', 'data', 'echo new > /data/file; cat /data/file')).trim(), 'new');

      // Restored: the old data. A smaller request than the snapshot is refused.
      const fromSnapshot = 'dataSource: {kind: VolumeSnapshot, apiGroup: snapshot.storage.k8s.io, name: snap1}';
      await cluster.k(['apply', '-f', '-'], claim('restored', '64Mi', `  ${fromSnapshot}`));
      assert.equal((await runPod(cluster, 'read-restored', 'restored', 'cat /data/file')).trim(), 'old');
      await cluster.k(['apply', '-f', '-'], claim('too-small', '1Mi', `  ${fromSnapshot}`));
      await cluster.k(['apply', '-f', '-'], pod('read-too-small', 'too-small', 'cat /data/file'));
      await until(
        'the too-small claim refused',
        async () => {
          const out = await cluster.k(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=too-small']);
          return /ProvisioningFailed.*requested volume size 1048576 is less than the size 67108864 for the source snapshot snap1/.test(
            out,
          );
        },
        60_000,
        500,
      );

      // Cloned: the data as it is now.
      await cluster.k(
        ['apply', '-f', '-'],
        claim('clone', '64Mi', '  dataSource: {kind: PersistentVolumeClaim, name: data}'),
      );
      assert.equal((await runPod(cluster, 'read-clone', 'clone', 'cat /data/file')).trim(), 'new');

      // A pre-provisioned content (Retain) over the same snapshot data, bound by name.
      await cluster.k(
        ['apply', '-f', '-'],
        `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotContent
metadata: {name: imported}
spec:
  deletionPolicy: Retain
  driver: k8ts.io/local-path
  source: {snapshotHandle: ${content?.status?.snapshotHandle}}
  volumeSnapshotRef: {name: pre, namespace: ${NS}}
`,
      );
      await cluster.k(['apply', '-f', '-'], snapshotYaml('pre', 'volumeSnapshotContentName: imported'));
      const pre = await readySnapshot(cluster, 'pre');
      assert.equal(pre.status?.boundVolumeSnapshotContentName, 'imported');
      const imported = await json<VolumeSnapshotContent>(cluster, ['get', 'volumesnapshotcontent', 'imported']);
      assert.equal(imported?.spec?.volumeSnapshotRef?.uid, pre.metadata.uid, 'binding fills in the uid');

      // Deletion: Retain keeps the content, Delete removes it and the copy.
      await cluster.k(['delete', 'volumesnapshot', '-n', NS, 'pre', '--wait=true', '--timeout=120s']);
      assert.ok(
        await json<VolumeSnapshotContent>(cluster, ['get', 'volumesnapshotcontent', 'imported']),
        'a Retain content stays',
      );
      await cluster.k(['delete', 'volumesnapshotcontent', 'imported', '--wait=true', '--timeout=120s']);
      assert.ok(existsSync(snapshotDir), 'deleting a Retain content keeps the data');
      await cluster.k(['delete', 'pod', '-n', NS, 'read-too-small', '--wait=true', '--timeout=120s']);
      await cluster.k(['delete', 'pvc', '-n', NS, 'too-small', '--wait=true', '--timeout=120s']);
      await cluster.k(['delete', 'volumesnapshot', '-n', NS, 'snap1', '--wait=true', '--timeout=120s']);
      await until(
        'the Delete content and its copy gone',
        async () =>
          !(await json<VolumeSnapshotContent>(cluster, [
            'get',
            'volumesnapshotcontent',
            content?.metadata.name ?? '',
          ])) && !existsSync(snapshotDir),
        120_000,
        300,
      );

      // Expansion: the claim grows, the volume's capacity and the claim's status follow.
      await cluster.k([
        'patch',
        'pvc',
        '-n',
        NS,
        'data',
        '-p',
        '{"spec":{"resources":{"requests":{"storage":"128Mi"}}}}',
      ]);
      const grown = await until(
        'the claim grown',
        async () => {
          const c = await json<PersistentVolumeClaim>(cluster, ['get', 'pvc', '-n', NS, 'data']);
          return c?.status?.capacity?.storage === '128Mi' ? c : undefined;
        },
        60_000,
        300,
      );
      assert.equal(grown.status?.conditions, undefined, 'no resize conditions left');
      assert.equal(grown.status?.allocatedResources?.storage, '128Mi');
      const pv = await json<PersistentVolume>(cluster, ['get', 'pv', grown.spec?.volumeName ?? '']);
      assert.equal(pv?.spec?.capacity?.storage, '128Mi');
      const events = await cluster.k(['get', 'events', '-n', NS, '--field-selector', 'involvedObject.name=data']);
      assert.match(events, /Resizing/);
      assert.match(events, /VolumeResizeSuccessful/);
      assert.equal((await runPod(cluster, 'read-grown', 'data', 'cat /data/file')).trim(), 'new');
    } finally {
      await cluster.cleanup();
    }
  },
);
