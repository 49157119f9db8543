import assert from 'node:assert/strict';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pod } from 'kubernetes-types/core/v1.js';
import { Client, R } from '../../src/client/client.js';
import { AtomicWriter, type Payload } from '../../src/agent/volumes/atomicwriter.js';
import { formatMap } from '../../src/agent/volumes/downward.js';
import { isMountPoint } from '../../src/agent/volumes/mounts.js';
import { VolumeError, VolumeManager } from '../../src/agent/volumes/manager.js';
import { PVCS, PVS } from '../../src/agent/volumes/sources.js';
import { startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

const isRoot = process.getuid?.() === 0;
const payload = (o: Record<string, string | [string, number]>): Payload =>
  new Map(
    Object.entries(o).map(([k, v]) => [
      k,
      Array.isArray(v) ? { data: Buffer.from(v[0]), mode: v[1] } : { data: Buffer.from(v), mode: 0o644 },
    ]),
  );

describe('AtomicWriter', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'k8ts-aw-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('layout, swaps, stale keys, modes, nested paths', async () => {
    const target = join(dir, 'v1');
    const w = new AtomicWriter(target);
    assert.equal(await w.write(payload({ a: 'A', b: ['B', 0o600], 'sub/dir/c': 'C' })), true);
    const ts1 = readlinkSync(join(target, '..data'));
    assert.match(ts1, /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d{9}$/);
    assert.equal(readlinkSync(join(target, 'a')), '..data/a');
    assert.equal(readlinkSync(join(target, 'sub')), '..data/sub');
    assert.equal(readFileSync(join(target, 'sub/dir/c'), 'utf8'), 'C');
    assert.equal(statSync(join(target, 'b')).mode & 0o777, 0o600);
    assert.equal(statSync(join(target, 'a')).mode & 0o777, 0o644);

    // Same content: nothing is rewritten.
    assert.equal(await w.write(payload({ a: 'A', b: ['B', 0o600], 'sub/dir/c': 'C' })), false);
    assert.equal(readlinkSync(join(target, '..data')), ts1);

    // A mode change alone is a change.
    assert.equal(await w.write(payload({ a: 'A', b: ['B', 0o640], 'sub/dir/c': 'C' })), true);
    assert.equal(statSync(join(target, 'b')).mode & 0o777, 0o640);

    // New content, 'b' and 'sub' gone: new data dir, stale links and old data dirs removed.
    assert.equal(await w.write(payload({ a: 'A2', d: 'D' })), true);
    const ts2 = readlinkSync(join(target, '..data'));
    assert.notEqual(ts2, ts1);
    assert.equal(readFileSync(join(target, 'a'), 'utf8'), 'A2');
    assert.deepEqual(readdirSync(target).sort(), ['..data', ts2, 'a', 'd'].sort());

    // Empty payload (optional source missing) leaves an empty but valid volume.
    assert.equal(await w.write(new Map()), true);
    assert.deepEqual(
      readdirSync(target).filter((n) => !n.startsWith('..')),
      [],
    );
  });

  test('rejects escaping paths', async () => {
    const w = new AtomicWriter(join(dir, 'v2'));
    await assert.rejects(w.write(payload({ '../x': 'x' })), /must not contain '\.\.'/);
    await assert.rejects(w.write(payload({ 'a/../../x': 'x' })), /must not contain '\.\.'/);
    await assert.rejects(w.write(payload({ '/etc/passwd': 'x' })), /must be relative path/);
    await assert.rejects(w.write(payload({ '..data': 'x' })), /must not start with '\.\.'/);
  });
});

describe('VolumeManager', () => {
  let t: TestApi;
  let client: Client;
  let podsDir: string;
  let vm: VolumeManager;
  let n = 0;
  const ns = 'default';
  const mkPod = (spec: Partial<Pod['spec']> & { volumes: any[] }, labels: Record<string, string> = {}): Pod => ({
    metadata: { name: `p${++n}`, namespace: ns, uid: `uid-${n}-${Date.now()}`, labels },
    spec: {
      containers: [{ name: 'c', image: 'busybox', resources: { limits: { memory: '64Mi' } } }],
      ...spec,
    },
  });

  before(async () => {
    t = await startTestApi();
    client = inProcessClient(t.api, { fieldManager: 'test' });
    podsDir = join(t.dir, 'pods');
    vm = new VolumeManager({ client, podsDir, nodeName: 'node1' });
    await client
      .resource(R.configmaps)
      .namespace(ns)
      .create({
        metadata: { name: 'cfg' },
        data: { 'app.conf': 'x=1', other: 'o' },
        binaryData: { bin: Buffer.from([0, 1, 2]).toString('base64') },
      });
    await client
      .resource(R.secrets)
      .namespace(ns)
      .create({ metadata: { name: 'sec' }, data: { password: Buffer.from('s3cr3t').toString('base64') } });
  });
  after(async () => {
    await t.stop();
  });

  test('configMap: all keys, items with paths and modes, refresh, optional, missing', async () => {
    const pod = mkPod({
      volumes: [
        { name: 'all', configMap: { name: 'cfg' } },
        {
          name: 'some',
          configMap: {
            name: 'cfg',
            items: [{ key: 'app.conf', path: 'conf/app.conf', mode: 0o400 }],
            defaultMode: 0o600,
          },
        },
        { name: 'opt', configMap: { name: 'nope', optional: true } },
      ],
    });
    const vols = await vm.setUp(pod);
    const all = vols.get('all')!;
    assert.equal(all.path, join(podsDir, pod.metadata!.uid!, 'volumes/kubernetes.io~configmap/all'));
    assert.equal(all.readOnly, true);
    assert.equal(readFileSync(join(all.path, 'app.conf'), 'utf8'), 'x=1');
    assert.deepEqual([...readFileSync(join(all.path, 'bin'))], [0, 1, 2]);
    const some = vols.get('some')!.path;
    assert.deepEqual(
      readdirSync(some).filter((x) => !x.startsWith('..')),
      ['conf'],
    );
    assert.equal(statSync(join(some, 'conf/app.conf')).mode & 0o777, 0o400);
    assert.deepEqual(
      readdirSync(vols.get('opt')!.path).filter((x) => !x.startsWith('..')),
      [],
    );

    assert.equal(await vm.refresh(pod), false);
    await client
      .resource(R.configmaps)
      .namespace(ns)
      .patch('cfg', 'merge', { data: { 'app.conf': 'x=2', other: null } });
    assert.equal(await vm.refresh(pod), true);
    assert.equal(readFileSync(join(all.path, 'app.conf'), 'utf8'), 'x=2');
    assert.equal(existsSync(join(all.path, 'other')), false);

    const bad = mkPod({ volumes: [{ name: 'cfgvol', configMap: { name: 'missing' } }] });
    await assert.rejects(vm.setUp(bad), (e: unknown) => {
      assert.ok(e instanceof VolumeError);
      assert.equal(e.reason, 'FailedMount');
      assert.equal(e.volume, 'cfgvol');
      assert.equal(e.message, 'MountVolume.SetUp failed for volume "cfgvol" : configmap "missing" not found');
      return true;
    });
    const badKey = mkPod({ volumes: [{ name: 'k', configMap: { name: 'cfg', items: [{ key: 'zzz', path: 'z' }] } }] });
    await assert.rejects(vm.setUp(badKey), /configmap references non-existent config key: zzz/);
    await vm.tearDown(pod.metadata!.uid!);
    assert.equal(existsSync(join(podsDir, pod.metadata!.uid!)), false);
  });

  test('secret (base64, tmpfs when root), downwardAPI, projected', async () => {
    const pod = mkPod(
      {
        volumes: [
          { name: 's', secret: { secretName: 'sec', defaultMode: 0o400 } },
          {
            name: 'd',
            downwardAPI: {
              items: [
                { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
                { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
                { path: 'tier', fieldRef: { fieldPath: "metadata.labels['tier']" } },
                { path: 'mem', resourceFieldRef: { containerName: 'c', resource: 'limits.memory', divisor: '1Mi' } },
              ],
            },
          },
          {
            name: 'kube-api-access',
            projected: {
              sources: [
                // serviceAccountToken sources need the TokenRequest API (serviceaccount-token.test.ts).
                { configMap: { name: 'cfg', items: [{ key: 'app.conf', path: 'ca.crt' }] } },
                { downwardAPI: { items: [{ path: 'namespace', fieldRef: { fieldPath: 'metadata.namespace' } }] } },
                { secret: { name: 'sec' } },
              ],
            },
          },
        ],
      },
      { app: 'web', tier: 'front"end' },
    );
    const vols = await vm.setUp(pod);
    const s = vols.get('s')!.path;
    assert.equal(readFileSync(join(s, 'password'), 'utf8'), 's3cr3t');
    assert.equal(statSync(join(s, 'password')).mode & 0o777, 0o400);
    if (isRoot) assert.equal(await isMountPoint(s), true);
    const d = vols.get('d')!.path;
    assert.equal(readFileSync(join(d, 'labels'), 'utf8'), 'app="web"\ntier="front\\"end"');
    assert.equal(readFileSync(join(d, 'tier'), 'utf8'), 'front"end');
    assert.equal(readFileSync(join(d, 'mem'), 'utf8'), '64');
    const p = vols.get('kube-api-access')!.path;
    assert.deepEqual(
      readdirSync(p)
        .filter((x) => !x.startsWith('..'))
        .sort(),
      ['ca.crt', 'namespace', 'password'],
    );
    assert.equal(readFileSync(join(p, 'namespace'), 'utf8'), 'default');

    // Label change reaches the downwardAPI volume on refresh.
    pod.metadata!.labels = { app: 'api' };
    assert.equal(await vm.refresh(pod), true);
    assert.equal(readFileSync(join(d, 'labels'), 'utf8'), 'app="api"');
    assert.equal(formatMap({ b: 'x\ny', a: '1' }), 'a="1"\nb="x\\ny"');

    await vm.tearDown(pod.metadata!.uid!);
    assert.equal(existsSync(join(podsDir, pod.metadata!.uid!)), false);
  });

  test('emptyDir (disk and Memory), hostPath types, tearDown keeps outside data', async () => {
    const host = mkdtempSync(join(tmpdir(), 'k8ts-host-'));
    writeFileSync(join(host, 'file'), 'keep');
    const pod = mkPod({
      volumes: [
        { name: 'scratch', emptyDir: {} },
        ...(isRoot ? [{ name: 'mem', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }] : []),
        { name: 'h', hostPath: { path: host, type: 'Directory' } },
        { name: 'hc', hostPath: { path: join(host, 'made/deep'), type: 'DirectoryOrCreate' } },
        { name: 'hf', hostPath: { path: join(host, 'new.txt'), type: 'FileOrCreate' } },
      ],
    });
    const vols = await vm.setUp(pod);
    const scratch = vols.get('scratch')!.path;
    assert.equal(statSync(scratch).mode & 0o777, 0o777);
    writeFileSync(join(scratch, 'data'), 'd');
    // Idempotent: content survives a second set-up.
    await vm.setUp(pod);
    assert.equal(readFileSync(join(scratch, 'data'), 'utf8'), 'd');
    assert.equal(statSync(join(host, 'made/deep')).isDirectory(), true);
    assert.equal(statSync(join(host, 'new.txt')).isFile(), true);
    // A symlink out of the pod directory must not be followed on tear-down.
    symlinkSync(host, join(scratch, 'escape'));
    let mem: string | undefined;
    if (isRoot) {
      mem = vols.get('mem')!.path;
      assert.equal(await isMountPoint(mem), true);
      assert.throws(() => writeFileSync(join(mem!, 'big'), Buffer.alloc(2 * 1024 * 1024)), /ENOSPC/);
    }

    for (const [type, path, msg] of [
      ['Directory', join(host, 'file'), `hostPath type check failed: ${join(host, 'file')} is not a directory`],
      ['File', host, `hostPath type check failed: ${host} is not a file`],
      ['Socket', host, `hostPath type check failed: ${host} is not a socket file`],
      ['CharDevice', host, `hostPath type check failed: ${host} is not a character device`],
      ['BlockDevice', '/dev/null', `hostPath type check failed: /dev/null is not a block device`],
      ['FileOrCreate', join(host, 'no/parent'), 'ENOENT'],
    ] as const) {
      await assert.rejects(
        vm.setUp(mkPod({ volumes: [{ name: 'x', hostPath: { path, type } }] })),
        (e: Error) => e.message.includes(msg),
        type,
      );
    }
    await vm.setUp(mkPod({ volumes: [{ name: 'x', hostPath: { path: '/dev/null', type: 'CharDevice' } }] }));

    await vm.tearDown(pod.metadata!.uid!);
    assert.equal(existsSync(join(podsDir, pod.metadata!.uid!)), false);
    if (mem) assert.equal(await isMountPoint(mem), false);
    assert.equal(readFileSync(join(host, 'file'), 'utf8'), 'keep');
    rmSync(host, { recursive: true, force: true });
  });

  test(
    'tmpfs volumes are mounted once, also under a symlinked pods directory',
    { skip: !isRoot && 'needs root to mount tmpfs' },
    async () => {
      const link = join(t.dir, 'pods-link');
      mkdirSync(join(t.dir, 'pods-real'));
      symlinkSync(join(t.dir, 'pods-real'), link);
      const m = new VolumeManager({ client, podsDir: link, nodeName: 'node1' });
      const pod = mkPod({
        volumes: [
          { name: 'mem', emptyDir: { medium: 'Memory' } },
          { name: 's', secret: { secretName: 'sec' } },
        ],
      });
      await m.setUp(pod);
      await m.setUp(pod);
      await m.refresh(pod);
      const real = join(t.dir, 'pods-real', pod.metadata!.uid!);
      const count = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .filter((l) => l.split(' ')[4]?.startsWith(real + '/')).length;
      assert.equal(count, 2);
      await m.tearDown(pod.metadata!.uid!);
      assert.equal(existsSync(real), false);
      assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(real), false);
    },
  );

  test('persistentVolumeClaim: unbound, bound to hostPath PV', async () => {
    const data = mkdtempSync(join(tmpdir(), 'k8ts-pv-'));
    const pvcs = client.resource(PVCS).namespace(ns);
    const pvc = await pvcs.create({
      metadata: { name: 'claim' },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
        volumeName: 'pv1',
        storageClassName: '',
      },
    });
    const pod = mkPod({ volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'claim', readOnly: true } }] });
    await assert.rejects(vm.setUp(pod), /error processing PVC default\/claim: PVC is not bound/);
    await client.resource(PVS).create({
      metadata: { name: 'pv1' },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        hostPath: { path: join(data, 'vol'), type: 'DirectoryOrCreate' },
        claimRef: { namespace: ns, name: 'claim', uid: pvc.metadata.uid },
        storageClassName: '',
      },
    });
    const cur = await pvcs.get('claim');
    await pvcs.updateStatus({
      ...cur,
      status: { phase: 'Bound', accessModes: ['ReadWriteOnce'], capacity: { storage: '1Gi' } },
    });
    const vols = await vm.setUp(pod);
    assert.deepEqual(vols.get('data'), {
      name: 'data',
      plugin: 'kubernetes.io~host-path',
      path: join(data, 'vol'),
      readOnly: true,
      refreshable: false,
    });
    writeFileSync(join(data, 'vol', 'keep'), 'k');
    await vm.tearDown(pod.metadata!.uid!);
    assert.equal(readFileSync(join(data, 'vol', 'keep'), 'utf8'), 'k');
    await assert.rejects(
      vm.setUp(mkPod({ volumes: [{ name: 'x', persistentVolumeClaim: { claimName: 'nope' } }] })),
      /persistentvolumeclaim "nope" not found/,
    );
    rmSync(data, { recursive: true, force: true });
  });

  test('mountsFor: subPath, subPathExpr, readOnly, propagation', async () => {
    const pod = mkPod({
      volumes: [
        { name: 'scratch', emptyDir: {} },
        { name: 'cfg', configMap: { name: 'cfg' } },
      ],
    });
    const vols = await vm.setUp(pod);
    const scratch = vols.get('scratch')!.path;
    const cfg = vols.get('cfg')!.path;
    const c = {
      name: 'c',
      image: 'x',
      volumeMounts: [
        { name: 'scratch', mountPath: '/data' },
        { name: 'scratch', mountPath: '/logs', subPathExpr: 'logs/$(POD_NAME)', mountPropagation: 'HostToContainer' },
        { name: 'cfg', mountPath: '/etc/app' },
        { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' },
        { name: 'scratch', mountPath: '/ro', subPath: 'ro', readOnly: true },
      ],
    };
    const mounts = await vm.mountsFor(pod, c, vols, [{ key: 'POD_NAME', value: 'web-0' }]);
    assert.deepEqual(
      mounts.map((m) => [m.containerPath, m.hostPath, m.readonly, m.propagation]),
      [
        ['/data', scratch, false, 'PROPAGATION_PRIVATE'],
        ['/logs', join(scratch, 'logs/web-0'), false, 'PROPAGATION_HOST_TO_CONTAINER'],
        ['/etc/app', cfg, true, 'PROPAGATION_PRIVATE'],
        ['/etc/app.conf', join(cfg, readlinkSync(join(cfg, '..data')), 'app.conf'), true, 'PROPAGATION_PRIVATE'],
        ['/ro', join(scratch, 'ro'), true, 'PROPAGATION_PRIVATE'],
      ],
    );
    assert.equal(statSync(join(scratch, 'logs/web-0')).isDirectory(), true);
    const one = (m: any) => vm.mountsFor(pod, { name: 'c', image: 'x', volumeMounts: [m] }, vols, []);
    await assert.rejects(
      one({ name: 'scratch', mountPath: '/x', subPath: 'a/../../etc' }),
      /unable to provision SubPath `a\/..\/..\/etc`: must not contain '..'/,
    );
    await assert.rejects(one({ name: 'scratch', mountPath: '/x', subPath: '/etc' }), /must not be an absolute path/);
    await assert.rejects(one({ name: 'scratch', mountPath: '/x', subPathExpr: '$(NOPE)' }), /missing value for NOPE/);
    await assert.rejects(
      one({ name: 'gone', mountPath: '/x' }),
      /cannot find volume "gone" to mount into container "c"/,
    );
    await assert.rejects(
      one({ name: 'scratch', mountPath: '/x', mountPropagation: 'Bidirectional' }),
      /only to privileged containers/,
    );
    // A symlink planted in the volume cannot lead a subPath outside it.
    mkdirSync(join(scratch, 'trap'));
    symlinkSync('/etc', join(scratch, 'trap', 'link'));
    await assert.rejects(
      one({ name: 'scratch', mountPath: '/x', subPath: 'trap/link' }),
      /failed to create subPath directory for volumeMount "scratch"/,
    );
    assert.equal(lstatSync(join(scratch, 'trap', 'link')).isSymbolicLink(), true);
    await vm.tearDown(pod.metadata!.uid!);
  });
});
