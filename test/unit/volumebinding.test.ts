// The scheduler's VolumeBinding plugin against hand-built claims, volumes and classes: which pods
// are rejected up front, which nodes each claim allows, what PreBind writes and how it waits; and
// the volume matching the PV controller shares with it.
import { test, describe } from 'node:test';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import assert from 'node:assert/strict';
import { NodeInfo, PodInfo, Code } from '../../src/scheduler/types.js';
import { CycleState } from '../../src/scheduler/framework.js';
import {
  VolumeBinding,
  ERR_BIND_CONFLICT,
  ERR_NODE_CONFLICT,
  ERR_PV_NOT_EXIST,
  ERR_UNBOUND_IMMEDIATE,
  type VolumeListers,
} from '../../src/scheduler/plugins/volumebinding.js';
import { defaultClass, findMatchingVolume } from '../../src/api/helpers/volumes.js';
import { DefaultStorageClass } from '../../src/apiserver/admission/defaultstorageclass.js';

function claim(name: string, spec: any = {}, meta: any = {}): any {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'default', uid: `uid-${name}`, ...meta },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: '1Gi' } },
      volumeMode: 'Filesystem',
      ...spec,
    },
    status: { phase: spec.volumeName ? 'Bound' : 'Pending' },
  };
}

function volume(
  name: string,
  opts: {
    size?: string;
    cls?: string;
    node?: string;
    claimRef?: any;
    phase?: string;
    labels?: any;
    modes?: string[];
  } = {},
): any {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, labels: opts.labels },
    spec: {
      capacity: { storage: opts.size ?? '1Gi' },
      accessModes: opts.modes ?? ['ReadWriteOnce'],
      storageClassName: opts.cls ?? '',
      volumeMode: 'Filesystem',
      hostPath: { path: `/tmp/${name}` },
      claimRef: opts.claimRef,
      nodeAffinity: opts.node
        ? {
            required: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [opts.node] }] },
              ],
            },
          }
        : undefined,
    },
    status: { phase: opts.phase ?? 'Available' },
  };
}

const sc = (name: string, provisioner: string, mode = 'WaitForFirstConsumer', meta: ObjectMeta = {}): StorageClass => ({
  apiVersion: 'storage.k8s.io/v1',
  kind: 'StorageClass',
  metadata: { name, ...meta },
  provisioner,
  volumeBindingMode: mode,
});

function node(name: string): NodeInfo {
  const n = new NodeInfo(name);
  n.setNode({
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    status: { allocatable: { cpu: '4', memory: '8Gi', pods: '110' } },
  });
  return n;
}

function pod(...claims: string[]): PodInfo {
  return new PodInfo({
    metadata: { name: 'p', namespace: 'default', uid: 'pod-uid' },
    spec: {
      containers: [{ name: 'c', image: 'x' }],
      volumes: claims.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })),
    },
  });
}

function listers(objs: {
  claims?: any[];
  volumes?: any[];
  classes?: any[];
}): VolumeListers & { claims: Map<string, any>; vols: Map<string, any> } {
  const claims = new Map((objs.claims ?? []).map((c) => [c.metadata.name, c]));
  const vols = new Map((objs.volumes ?? []).map((v) => [v.metadata.name, v]));
  const classes = new Map((objs.classes ?? []).map((c) => [c.metadata.name, c]));
  return {
    claims,
    vols,
    claim: (_ns, name) => claims.get(name),
    volume: (name) => vols.get(name),
    volumes: () => vols.values(),
    storageClass: (name) => classes.get(name),
  };
}

/** PreFilter, then Filter on each node: the statuses by node (null: fits). */
function run(
  plugin: VolumeBinding,
  p: PodInfo,
  nodes: NodeInfo[],
): { state: CycleState; pre: any; byNode: Map<string, any> } {
  const state = new CycleState();
  const pre = plugin.preFilter(state, p);
  const byNode = new Map<string, any>();
  if (!pre) for (const n of nodes) byNode.set(n.name, plugin.filter(state, p, n));
  return { state, pre, byNode };
}

const nodes = [node('n1'), node('n2')];

describe('VolumeBinding PreFilter', () => {
  test('a pod without claims skips the plugin', () => {
    const { pre } = run(new VolumeBinding({ listers: listers({}) }), pod(), nodes);
    assert.equal(pre.code, Code.Skip);
  });

  test('a missing claim makes the pod unschedulable with upstream’s message', () => {
    const { pre } = run(new VolumeBinding({ listers: listers({}) }), pod('data'), nodes);
    assert.equal(pre.code, Code.UnschedulableAndUnresolvable);
    assert.equal(pre.message, 'persistentvolumeclaim "data" not found');
  });

  test('a generic ephemeral volume waits for its claim <pod>-<volume>', () => {
    const p = new PodInfo({
      metadata: { name: 'p', namespace: 'default', uid: 'u' },
      spec: { containers: [], volumes: [{ name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: {} } } }] },
    });
    const { pre } = run(new VolumeBinding({ listers: listers({}) }), p, nodes);
    assert.equal(
      pre.message,
      'waiting for ephemeral volume controller to create the persistentvolumeclaim "p-scratch"',
    );
  });

  test('a claim being deleted is refused', () => {
    const l = listers({ claims: [claim('data', {}, { deletionTimestamp: '2024-01-01T00:00:00Z' })] });
    const { pre } = run(new VolumeBinding({ listers: l }), pod('data'), nodes);
    assert.equal(pre.message, 'persistentvolumeclaim "data" is being deleted');
  });

  test('an unbound claim of an Immediate class waits for the PV controller', () => {
    const l = listers({
      claims: [claim('data', { storageClassName: 'fast' })],
      classes: [sc('fast', 'example.com/x', 'Immediate')],
    });
    const { pre } = run(new VolumeBinding({ listers: l }), pod('data'), nodes);
    assert.equal(pre.code, Code.UnschedulableAndUnresolvable);
    assert.equal(pre.message, ERR_UNBOUND_IMMEDIATE);
  });

  test('an unbound claim without any class counts as Immediate', () => {
    const l = listers({ claims: [claim('data', { storageClassName: '' })] });
    const { pre } = run(new VolumeBinding({ listers: l }), pod('data'), nodes);
    assert.equal(pre.message, ERR_UNBOUND_IMMEDIATE);
  });
});

describe('VolumeBinding Filter', () => {
  test('a bound volume pinned to a node allows only that node', () => {
    const l = listers({
      claims: [claim('data', { volumeName: 'pv1', storageClassName: '' })],
      volumes: [
        volume('pv1', {
          node: 'n2',
          claimRef: { namespace: 'default', name: 'data', uid: 'uid-data' },
          phase: 'Bound',
        }),
      ],
    });
    const { byNode } = run(new VolumeBinding({ listers: l }), pod('data'), nodes);
    assert.equal(byNode.get('n1')?.message, ERR_NODE_CONFLICT);
    assert.equal(byNode.get('n1')?.code, Code.UnschedulableAndUnresolvable);
    assert.equal(byNode.get('n2'), null);
  });

  test('a bound volume without node affinity fits everywhere; a missing one nowhere', () => {
    const l = listers({
      claims: [
        claim('a', { volumeName: 'pv-a', storageClassName: '' }),
        claim('b', { volumeName: 'gone', storageClassName: '' }),
      ],
      volumes: [volume('pv-a', { phase: 'Bound' })],
    });
    const vb = new VolumeBinding({ listers: l });
    assert.equal(run(vb, pod('a'), nodes).byNode.get('n1'), null);
    assert.equal(run(vb, pod('b'), nodes).byNode.get('n1')?.message, ERR_PV_NOT_EXIST);
  });

  test('an unbound WaitForFirstConsumer claim of a provisioning class fits every node', () => {
    const l = listers({
      claims: [claim('data', { storageClassName: 'local-path' })],
      classes: [sc('local-path', 'k8ts.io/local-path')],
    });
    const { byNode } = run(new VolumeBinding({ listers: l }), pod('data'), nodes);
    assert.equal(byNode.get('n1'), null);
    assert.equal(byNode.get('n2'), null);
  });

  test('no-provisioner classes need an Available local volume on the node', () => {
    const l = listers({
      claims: [claim('data', { storageClassName: 'local' })],
      classes: [sc('local', 'kubernetes.io/no-provisioner')],
      volumes: [
        volume('small', { cls: 'local', node: 'n1', size: '512Mi' }),
        volume('right', { cls: 'local', node: 'n2', size: '2Gi' }),
      ],
    });
    const { byNode } = run(new VolumeBinding({ listers: l }), pod('data'), nodes);
    assert.equal(byNode.get('n1')?.message, ERR_BIND_CONFLICT);
    assert.equal(byNode.get('n2'), null);
  });

  test('two claims of one pod never get the same static volume', () => {
    const l = listers({
      claims: [claim('a', { storageClassName: 'local' }), claim('b', { storageClassName: 'local' })],
      classes: [sc('local', 'kubernetes.io/no-provisioner')],
      volumes: [volume('only', { cls: 'local', node: 'n1' })],
    });
    const { byNode } = run(new VolumeBinding({ listers: l }), pod('a', 'b'), nodes);
    assert.equal(byNode.get('n1')?.message, ERR_BIND_CONFLICT);
  });
});

describe('VolumeBinding PreBind', () => {
  function fakeClient(l: ReturnType<typeof listers>, onWrite: (what: string, obj: any) => void): any {
    const rc = (spec: any): any => ({
      namespace: () => rc(spec),
      patch(name: string, _type: string, body: any) {
        onWrite(`patch ${spec.plural}/${name}`, body);
        return Promise.resolve({});
      },
      update(obj: any) {
        onWrite(`update ${spec.plural}/${obj.metadata.name}`, obj);
        return Promise.resolve(obj);
      },
      get(name: string) {
        return Promise.resolve({ metadata: { name } });
      },
    });
    return { resource: rc };
  }

  test('a claim to provision gets selected-node, and the pod waits until it is bound', async () => {
    const l = listers({
      claims: [claim('data', { storageClassName: 'local-path' })],
      classes: [sc('local-path', 'k8ts.io/local-path')],
    });
    const writes: [string, any][] = [];
    const client = fakeClient(l, (w, o) => {
      writes.push([w, o]);
      // What the provisioner and the PV controller would do a moment later.
      setTimeout(() => {
        const c = structuredClone(l.claims.get('data'));
        c.metadata.annotations = {
          'volume.kubernetes.io/selected-node': 'n2',
          'pv.kubernetes.io/bind-completed': 'yes',
        };
        c.spec.volumeName = 'pvc-x';
        l.claims.set('data', c);
        l.vols.set(
          'pvc-x',
          volume('pvc-x', {
            node: 'n2',
            claimRef: { namespace: 'default', name: 'data', uid: 'uid-data' },
            phase: 'Bound',
          }),
        );
      }, 30);
    });
    const vb = new VolumeBinding({ listers: l, client, pollMs: 10, bindTimeoutMs: 2000 });
    const p = pod('data');
    const { state } = run(vb, p, nodes);
    const st = await vb.preBind(state, p, 'n2');
    assert.equal(st, null);
    assert.deepEqual(writes, [
      [
        'patch persistentvolumeclaims/data',
        { metadata: { annotations: { 'volume.kubernetes.io/selected-node': 'n2' } } },
      ],
    ]);
  });

  test('a static match is pre-bound through the volume’s claimRef', async () => {
    const l = listers({
      claims: [claim('data', { storageClassName: 'local' })],
      classes: [sc('local', 'kubernetes.io/no-provisioner')],
      volumes: [volume('pv1', { cls: 'local', node: 'n1' })],
    });
    const writes: [string, any][] = [];
    const vb = new VolumeBinding({
      listers: l,
      client: fakeClient(l, (w, o) => writes.push([w, o])),
      pollMs: 10,
      bindTimeoutMs: 100,
    });
    const p = pod('data');
    const { state } = run(vb, p, nodes);
    const st = await vb.preBind(state, p, 'n1');
    // Nobody completes the binding here: PreBind gives up after its timeout.
    assert.equal(st?.code, Code.Error);
    assert.match(st.message, /^binding volumes: timed out waiting for the condition$/);
    assert.equal(writes.length, 1);
    assert.equal(writes[0][0], 'update persistentvolumes/pv1');
    assert.deepEqual(writes[0][1].spec.claimRef, {
      kind: 'PersistentVolumeClaim',
      apiVersion: 'v1',
      namespace: 'default',
      name: 'data',
      uid: 'uid-data',
    });
    assert.equal(writes[0][1].metadata.annotations['pv.kubernetes.io/bound-by-controller'], 'yes');
  });
});

describe('volume matching', () => {
  test('the smallest Available volume that fits wins', () => {
    const c = claim('data', { storageClassName: 'manual', resources: { requests: { storage: '1Gi' } } });
    const vols = [
      volume('big', { cls: 'manual', size: '10Gi' }),
      volume('fit', { cls: 'manual', size: '2Gi' }),
      volume('small', { cls: 'manual', size: '500Mi' }),
      volume('other-class', { cls: 'slow', size: '1Gi' }),
      volume('released', { cls: 'manual', size: '1Gi', phase: 'Released' }),
      volume('rwx-only', { cls: 'manual', size: '1Gi', modes: ['ReadWriteMany'] }),
    ];
    assert.equal(findMatchingVolume(c, vols)?.metadata.name, 'fit');
  });

  test('a selector narrows the candidates; a pre-bound volume wins outright', () => {
    const c = claim('data', { storageClassName: 'manual', selector: { matchLabels: { tier: 'gold' } } });
    const vols = [
      volume('plain', { cls: 'manual' }),
      volume('gold', { cls: 'manual', size: '5Gi', labels: { tier: 'gold' } }),
    ];
    assert.equal(findMatchingVolume(c, vols)?.metadata.name, 'gold');
    const pre = volume('mine', {
      cls: 'other',
      size: '1Gi',
      claimRef: { namespace: 'default', name: 'data' },
      phase: 'Available',
    });
    assert.equal(findMatchingVolume(c, [...vols, pre])?.metadata.name, 'mine');
  });

  test('WaitForFirstConsumer claims are left to the scheduler unless a volume is pre-bound', () => {
    const c = claim('data', { storageClassName: 'local' });
    assert.equal(findMatchingVolume(c, [volume('v', { cls: 'local' })], { delayBinding: true }), undefined);
  });
});

describe('DefaultStorageClass admission', () => {
  const classes = [
    sc('old', 'a', 'Immediate', {
      creationTimestamp: '2024-01-01T00:00:00Z',
      annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
    }),
    sc('new', 'b', 'Immediate', {
      creationTimestamp: '2024-06-01T00:00:00Z',
      annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' },
    }),
    sc('plain', 'c', 'Immediate', { creationTimestamp: '2025-01-01T00:00:00Z' }),
  ];
  const admit = (obj: any) => {
    const a: any = { operation: 'CREATE', group: '', resource: 'persistentvolumeclaims', subresource: '', object: obj };
    const p = new DefaultStorageClass(() => classes);
    if (p.handles(a)) p.admit(a);
    return obj;
  };

  test('the newest default class is given to a claim without one', () => {
    assert.equal(defaultClass(classes)?.metadata?.name, 'new');
    assert.equal(admit(claim('x')).spec.storageClassName, 'new');
  });

  test('an explicit class, even "", is kept', () => {
    assert.equal(admit(claim('x', { storageClassName: '' })).spec.storageClassName, '');
    assert.equal(admit(claim('x', { storageClassName: 'plain' })).spec.storageClassName, 'plain');
  });
});
