// Persistent volumes end to end with the real kubectl against `k8ts server --simulated-nodes 1`,
// with a local-path provisioner for the simulated node running in this process (as each node
// agent runs one): WaitForFirstConsumer claims provisioned once their pod is scheduled, deletion
// and retention of provisioned volumes, static volumes bound by the PV controller, the scheduler
// waiting for missing claims, and StatefulSet volumeClaimTemplates.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import pino from 'pino';
import { startCluster, until, type Cluster } from './harness.js';
import { Client } from '../../src/client/client.js';
import { LocalPathProvisioner } from '../../src/agent/provisioner/localpath.js';

const NODE = 'sim-node-0';
let cluster: Cluster;
let client: Client;
let provisioner: LocalPathProvisioner;
let storageDir: string;

before(async () => {
  cluster = await startCluster({ args: ['--simulated-nodes', '1', '--disable-agent'] });
  await until(
    'the simulated node',
    async () => (await cluster.k(['get', 'nodes', '-o', 'name'])).includes(NODE),
    30_000,
  );
  client = Client.fromKubeconfig(cluster.kubeconfig, { fieldManager: 'local-path-provisioner' });
  storageDir = join(cluster.dataDir, 'storage');
  provisioner = new LocalPathProvisioner({ client, nodeName: NODE, storageDir, logger: pino({ level: 'warn' }) });
  await provisioner.start();
});

after(async () => {
  await provisioner?.stop();
  await client?.close();
  await cluster?.cleanup();
});

const eventually = <T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 30_000) =>
  until(what, fn, timeoutMs, 200);
const getJSON = async (args: string[]) => JSON.parse(await cluster.k([...args, '-o', 'json']));
const tryJSON = async (args: string[]) => {
  const r = await cluster.kubectl([...args, '-o', 'json']);
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
};
const events = async (ns: string, name: string) =>
  (await getJSON(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`])).items.map(
    (e: any) => `${e.reason}: ${e.message}`,
  );

const claimYaml = (name: string, ns: string, extra = '', size = '100Mi') => `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}, namespace: ${ns}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: ${size}}}
${extra}`;

const podYaml = (name: string, ns: string, claim: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: c, image: busybox, command: [sleep, '3600'], volumeMounts: [{name: data, mountPath: /data}]}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: ${claim}}}]
`;

test('the local-path class exists and is the default', async () => {
  const out = await cluster.k(['get', 'storageclass']);
  assert.match(out, /^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE/m);
  assert.match(out, /^local-path \(default\)\s+k8ts\.io\/local-path\s+Delete\s+WaitForFirstConsumer\s+true\s+/m);
});

test('a WaitForFirstConsumer claim is provisioned on the node of its first pod, and deleted with it', async () => {
  const ns = 'wffc';
  await cluster.k(['create', 'namespace', ns]);
  await cluster.k(['apply', '-f', '-'], claimYaml('data', ns));
  // DefaultStorageClass admission gave it the default class; it waits for a consumer.
  const claim = await getJSON(['get', 'pvc', 'data', '-n', ns]);
  assert.equal(claim.spec.storageClassName, 'local-path');
  await eventually('WaitForFirstConsumer event', async () =>
    (await events(ns, 'data')).includes(
      'WaitForFirstConsumer: waiting for first consumer to be created before binding',
    ),
  );
  await new Promise((r) => setTimeout(r, 500));
  assert.equal((await getJSON(['get', 'pvc', 'data', '-n', ns])).status.phase, 'Pending');
  assert.deepEqual(
    (await getJSON(['get', 'pv'])).items.filter((pv: any) => pv.spec.claimRef?.namespace === ns),
    [],
  );

  await cluster.k(['apply', '-f', '-'], podYaml('app', ns, 'data'));
  const bound = await eventually('claim Bound', async () => {
    const c = await getJSON(['get', 'pvc', 'data', '-n', ns]);
    return c.status.phase === 'Bound' ? c : undefined;
  });
  const pvName = `pvc-${claim.metadata.uid}`;
  assert.equal(bound.spec.volumeName, pvName);
  assert.equal(bound.metadata.annotations['volume.kubernetes.io/selected-node'], NODE);
  assert.equal(bound.metadata.annotations['volume.kubernetes.io/storage-provisioner'], 'k8ts.io/local-path');
  assert.equal(bound.metadata.annotations['pv.kubernetes.io/bind-completed'], 'yes');
  assert.deepEqual(bound.status.capacity, { storage: '100Mi' });
  assert.deepEqual(bound.status.accessModes, ['ReadWriteOnce']);
  assert.ok(bound.metadata.finalizers.includes('kubernetes.io/pvc-protection'));
  assert.equal(
    await eventually('pod scheduled', async () => (await getJSON(['get', 'pod', 'app', '-n', ns])).spec.nodeName),
    NODE,
  );

  const pv = await eventually('PV Bound', async () => {
    const v = await getJSON(['get', 'pv', pvName]);
    return v.status.phase === 'Bound' && v.metadata.finalizers?.includes('kubernetes.io/pv-protection') ? v : undefined;
  });
  assert.deepEqual(pv.spec.nodeAffinity.required.nodeSelectorTerms, [
    { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [NODE] }] },
  ]);
  assert.equal(pv.spec.persistentVolumeReclaimPolicy, 'Delete');
  assert.equal(pv.spec.storageClassName, 'local-path');
  assert.equal(pv.metadata.annotations['pv.kubernetes.io/provisioned-by'], 'k8ts.io/local-path');
  assert.equal(pv.spec.claimRef.uid, claim.metadata.uid);
  // Under this process's storage dir, or another provisioner's serving the simulated node.
  const dir: string = pv.spec.hostPath.path;
  assert.equal(basename(dir), `${pvName}_${ns}_data`);
  assert.equal(pv.spec.hostPath.type, 'DirectoryOrCreate');
  assert.ok(statSync(dir).isDirectory());
  assert.equal(statSync(dir).mode & 0o777, 0o777);
  const evs = await events(ns, 'data');
  assert.ok(evs.includes(`ProvisioningSucceeded: Successfully provisioned volume ${pvName}`), evs.join('\n'));
  assert.ok(
    evs.includes(`Provisioning: External provisioner is provisioning volume for claim "${ns}/data"`),
    evs.join('\n'),
  );

  // kubectl's columns, as upstream's.
  const pvcTable = await cluster.k(['get', 'pvc', '-n', ns]);
  assert.match(pvcTable, /^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+/m);
  assert.match(pvcTable, new RegExp(`^data\\s+Bound\\s+${pvName}\\s+100Mi\\s+RWO\\s+local-path\\s+`, 'm'));
  const pvTable = await cluster.k(['get', 'pv', pvName]);
  assert.match(pvTable, /^NAME\s+CAPACITY\s+ACCESS MODES\s+RECLAIM POLICY\s+STATUS\s+CLAIM\s+STORAGECLASS\s+/m);
  assert.match(
    pvTable,
    new RegExp(`^${pvName}\\s+100Mi\\s+RWO\\s+Delete\\s+Bound\\s+${ns}/data\\s+local-path\\s+`, 'm'),
  );

  // In use: deleting the claim only marks it while the pod runs.
  await cluster.k(['delete', 'pvc', 'data', '-n', ns, '--wait=false']);
  await new Promise((r) => setTimeout(r, 500));
  const terminating = await getJSON(['get', 'pvc', 'data', '-n', ns]);
  assert.ok(terminating.metadata.deletionTimestamp);
  assert.equal((await getJSON(['get', 'pv', pvName])).status.phase, 'Bound');

  await cluster.k(['delete', 'pod', 'app', '-n', ns, '--wait=false']);
  await eventually('claim gone', async () => !(await tryJSON(['get', 'pvc', 'data', '-n', ns])));
  await eventually('volume deleted by the provisioner', async () => !(await tryJSON(['get', 'pv', pvName])));
  assert.equal(existsSync(dir), false);
});

test('a Retain class keeps the released volume and its directory', async () => {
  const ns = 'retain';
  await cluster.k(['create', 'namespace', ns]);
  await cluster.k(
    ['apply', '-f', '-'],
    `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: keep}
provisioner: k8ts.io/local-path
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
` + ['', claimYaml('keep', ns, '  storageClassName: keep'), podYaml('app', ns, 'keep')].join('\n---\n'),
  );
  const claim = await eventually('claim Bound', async () => {
    const c = await getJSON(['get', 'pvc', 'keep', '-n', ns]);
    return c.status.phase === 'Bound' ? c : undefined;
  });
  const pvName = claim.spec.volumeName;
  assert.equal((await getJSON(['get', 'pv', pvName])).spec.persistentVolumeReclaimPolicy, 'Retain');
  await cluster.k(['delete', 'pod', 'app', '-n', ns, '--wait=false']);
  await cluster.k(['delete', 'pvc', 'keep', '-n', ns, '--wait=false']);
  const released = await eventually('volume Released', async () => {
    const v = await getJSON(['get', 'pv', pvName]);
    return v.status.phase === 'Released' ? v : undefined;
  });
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(await tryJSON(['get', 'pv', pvName]), 'a retained volume stays');
  assert.ok(existsSync(released.spec.hostPath.path));
  assert.match(
    await cluster.k(['get', 'pv', pvName]),
    new RegExp(`^${pvName}\\s+100Mi\\s+RWO\\s+Retain\\s+Released\\s+${ns}/keep\\s+keep\\s+`, 'm'),
  );
  // No longer bound: PV protection lets the administrator delete it.
  await cluster.k(['delete', 'pv', pvName, '--timeout=20s']);
});

test('static volumes: the smallest fitting one binds; unmatched claims explain themselves', async () => {
  const ns = 'static';
  await cluster.k(['create', 'namespace', ns]);
  const pvYaml = (name: string, size: string, policy = 'Retain') => `
apiVersion: v1
kind: PersistentVolume
metadata: {name: ${name}, labels: {kind: static}}
spec:
  capacity: {storage: ${size}}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: ${policy}
  storageClassName: manual
  hostPath: {path: /tmp/${name}}
`;
  await cluster.k(
    ['apply', '-f', '-'],
    [pvYaml('static-big', '5Gi'), pvYaml('static-fit', '1Gi', 'Delete')].join('\n---\n'),
  );
  await eventually('volumes Available', async () => {
    const items = (await getJSON(['get', 'pv', '-l', 'kind=static'])).items;
    return items.length === 2 && items.every((v: any) => v.status.phase === 'Available');
  });
  await cluster.k(['apply', '-f', '-'], claimYaml('claim', ns, '  storageClassName: manual', '500Mi'));
  const claim = await eventually('claim Bound', async () => {
    const c = await getJSON(['get', 'pvc', 'claim', '-n', ns]);
    return c.status.phase === 'Bound' ? c : undefined;
  });
  assert.equal(claim.spec.volumeName, 'static-fit');
  assert.deepEqual(claim.status.capacity, { storage: '1Gi' });
  assert.equal(claim.metadata.annotations['pv.kubernetes.io/bound-by-controller'], 'yes');
  const pv = await getJSON(['get', 'pv', 'static-fit']);
  assert.equal(pv.status.phase, 'Bound');
  assert.equal(pv.spec.claimRef.name, 'claim');
  assert.equal(pv.spec.claimRef.uid, claim.metadata.uid);
  assert.equal((await getJSON(['get', 'pv', 'static-big'])).status.phase, 'Available');

  // No class at all and nothing fits.
  await cluster.k(['apply', '-f', '-'], claimYaml('classless', ns, '  storageClassName: ""', '10Gi'));
  await eventually('FailedBinding event', async () =>
    (await events(ns, 'classless')).includes(
      'FailedBinding: no persistent volumes available for this claim and no storage class is set',
    ),
  );
  assert.equal((await getJSON(['get', 'pvc', 'classless', '-n', ns])).status.phase, 'Pending');

  // Delete policy on a volume no provisioner made: Released, then Failed as upstream (no deleter).
  await cluster.k(['delete', 'pvc', 'claim', '-n', ns]);
  await eventually(
    'static volume Failed',
    async () => (await getJSON(['get', 'pv', 'static-fit'])).status.phase === 'Failed',
  );
  await eventually('VolumeFailedDelete event', async () =>
    (await events('default', 'static-fit')).some(
      (e: string) => e.startsWith('VolumeFailedDelete: ') && e.includes('no deletable volume plugin matched'),
    ),
  );
  await cluster.k(['delete', 'pv', 'static-fit', 'static-big', '--timeout=20s']);
});

test('a pod whose claim does not exist yet waits for it', async () => {
  const ns = 'late';
  await cluster.k(['create', 'namespace', ns]);
  await cluster.k(['apply', '-f', '-'], podYaml('app', ns, 'later'));
  await eventually('FailedScheduling event', async () =>
    (await events(ns, 'app')).some((e: string) =>
      e.startsWith('FailedScheduling: 0/1 nodes are available: persistentvolumeclaim "later" not found.'),
    ),
  );
  await cluster.k(['apply', '-f', '-'], claimYaml('later', ns));
  assert.equal(
    await eventually('pod scheduled', async () => (await getJSON(['get', 'pod', 'app', '-n', ns])).spec.nodeName),
    NODE,
  );
  assert.equal((await getJSON(['get', 'pvc', 'later', '-n', ns])).status.phase, 'Bound');
});

test('a StatefulSet gets one Bound claim per ordinal from its volumeClaimTemplates', async () => {
  const ns = 'sts';
  await cluster.k(['create', 'namespace', ns]);
  await cluster.k(
    ['apply', '-n', ns, '-f', '-'],
    `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 0
      # No volumeMounts of "www": the API's StatefulSet validation still refuses mounts of
      # volumeClaimTemplates (upstream accepts them); the controller adds the volume either way.
      containers: [{name: c, image: nginx}]
  volumeClaimTemplates:
  - metadata: {name: www}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 50Mi}}
`,
  );
  const claims = await eventually('two Bound claims', async () => {
    const items = (await getJSON(['get', 'pvc', '-n', ns])).items;
    return items.length === 2 && items.every((c: any) => c.status.phase === 'Bound') ? items : undefined;
  });
  assert.deepEqual(claims.map((c: any) => c.metadata.name).sort(), ['www-web-0', 'www-web-1']);
  for (const c of claims) {
    assert.equal(c.spec.storageClassName, 'local-path');
    assert.equal(c.metadata.labels.app, 'web');
  }
  for (const ord of [0, 1]) {
    const pod = await eventually(`web-${ord} scheduled`, async () => {
      const p = await tryJSON(['get', 'pod', `web-${ord}`, '-n', ns]);
      return p?.spec.nodeName ? p : undefined;
    });
    assert.deepEqual(
      pod.spec.volumes.find((v: any) => v.name === 'www'),
      { name: 'www', persistentVolumeClaim: { claimName: `www-web-${ord}` } },
    );
  }
});
