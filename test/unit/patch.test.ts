import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonPatch, mergePatch, strategicMergePatch, PatchError } from '../../src/machinery/patch/index.js';

const POD = 'io.k8s.api.core.v1.Pod';
const DEPLOYMENT = 'io.k8s.api.apps.v1.Deployment';

function frozenCopy<T>(v: T): T {
  const c = structuredClone(v);
  const freeze = (x: unknown): void => {
    if (x && typeof x === 'object') {
      Object.freeze(x);
      Object.values(x).forEach(freeze);
    }
  };
  freeze(c);
  return c;
}

// ------------------------------------------------------------------------------ JSON patch

test('jsonPatch applies operations without touching inputs', () => {
  const obj = frozenCopy({ spec: { replicas: 1, list: ['a'] } });
  const ops = frozenCopy([
    { op: 'test', path: '/spec/replicas', value: 1 },
    { op: 'replace', path: '/spec/replicas', value: 3 },
    { op: 'add', path: '/spec/list/-', value: 'b' },
    { op: 'add', path: '/spec/extra', value: { x: 1 } },
  ]);
  const out = jsonPatch(obj, ops) as { spec: { replicas: number; list: string[]; extra: { x: number } } };
  assert.deepEqual(out, { spec: { replicas: 3, list: ['a', 'b'], extra: { x: 1 } } });
  assert.notEqual(out.spec.extra, (ops[3] as { value: unknown }).value);
});

test('jsonPatch: failed test op is an error', () => {
  assert.throws(
    () => jsonPatch({ a: 1 }, [{ op: 'test', path: '/a', value: 2 }]),
    (err: unknown) =>
      err instanceof PatchError && err.reason === 'Invalid' && /testing value \/a failed/.test(err.message),
  );
});

test('jsonPatch: missing path and bad ops give clear errors', () => {
  assert.throws(
    () => jsonPatch({ a: 1 }, [{ op: 'remove', path: '/b' }]),
    /^PatchError: error in remove for path: '\/b': Unable to remove nonexistent key: b: missing value$/,
  );
  assert.throws(
    () => jsonPatch({ a: 1 }, [{ op: 'remove', path: '/b/c' }]),
    /^PatchError: remove operation does not apply: doc is missing path: "\/b\/c": missing value$/,
  );
  assert.throws(() => jsonPatch({ a: 1 }, [{ op: 'frobnicate', path: '/a' }]), PatchError);
  assert.throws(() => jsonPatch({ a: 1 }, { op: 'add' }), /JSON array/);
  assert.throws(() => jsonPatch({ a: 1 }, [{ op: 'add', path: '/x' }]), /missing "value"/);
});

test('jsonPatch: upstream (evanphx/json-patch v4) rules and messages for lists and odd paths', () => {
  const fails = (ops: unknown[], message: string) =>
    assert.throws(
      () => jsonPatch({ l: [1] }, ops),
      (err: unknown) => err instanceof PatchError && err.message === message,
    );
  fails(
    [{ op: 'add', path: '/l/+5', value: 1 }],
    "error in add for path: '/l/+5': Unable to access invalid index: 5: invalid index referenced",
  );
  fails(
    [{ op: 'add', path: '/l/x', value: 1 }],
    `error in add for path: '/l/x': value was not a proper array index: 'x': strconv.Atoi: parsing "x": invalid syntax`,
  );
  fails(
    [{ op: 'remove', path: '/l/x' }],
    `error in remove for path: '/l/x': strconv.Atoi: parsing "x": invalid syntax`,
  );
  fails(
    [{ op: 'test', path: '/l/9', value: 1 }],
    "error in test for path: '/l/9': Unable to access invalid index: 9: invalid index referenced",
  );
  fails([{ op: 'add', path: '', value: {} }], 'add operation does not apply: doc is missing path: "": missing value');
  fails(
    [{ op: 'copy', from: '/m/x', path: '/y' }],
    'copy operation does not apply: doc is missing from path: /m/x: missing value',
  );
  assert.deepEqual(
    jsonPatch({ l: [1, 2] }, [
      { op: 'remove', path: '/l/-1' },
      { op: 'add', path: '/l/0', value: 0 },
    ]),
    { l: [0, 1] },
  );
  // A missing member copies as null, and replace of one adds it.
  assert.deepEqual(
    jsonPatch({ a: 1 }, [
      { op: 'copy', from: '/b', path: '/c' },
      { op: 'replace', path: '/d', value: 2 },
    ]),
    { a: 1, c: null, d: 2 },
  );
  assert.deepEqual(jsonPatch({ a: 1 }, [{ op: 'replace', path: '', value: { b: 2 } }]), { b: 2 });
});

// ------------------------------------------------------------------------------ merge patch

test('mergePatch follows RFC 7386', () => {
  const target = frozenCopy({ a: 'b', c: { d: 'e', f: 'g' }, l: [1, 2] });
  assert.deepEqual(mergePatch(target, { a: 'z', c: { f: null }, l: [3] }), { a: 'z', c: { d: 'e' }, l: [3] });
  assert.deepEqual(mergePatch({ a: 'b' }, { a: { x: null, y: 1 } }), { a: { y: 1 } });
  assert.deepEqual(mergePatch({ a: 1 }, ['x']), ['x']);
  const out = mergePatch(target, {});
  assert.notEqual(out.c, target.c);
});

// ------------------------------------------------------------------------------ strategic merge patch

const pod = frozenCopy({
  metadata: { name: 'p', labels: { a: '1', b: '2' }, finalizers: ['x', 'y'] },
  spec: {
    containers: [
      {
        name: 'app',
        image: 'app:1',
        env: [
          { name: 'A', value: '1' },
          { name: 'B', value: '2' },
        ],
      },
      { name: 'side', image: 'side:1' },
    ],
    tolerations: [{ key: 'k1', operator: 'Exists' }],
    volumes: [{ name: 'v', emptyDir: {} }],
  },
});

test('SMP merges containers and env by name', () => {
  const out = strategicMergePatch(
    pod,
    {
      spec: {
        containers: [
          {
            name: 'app',
            image: 'app:2',
            env: [
              { name: 'B', value: 'b' },
              { name: 'C', value: '3' },
            ],
          },
        ],
      },
    },
    POD,
  );
  assert.equal(out.spec.containers.length, 2);
  assert.deepEqual(out.spec.containers[0], {
    name: 'app',
    image: 'app:2',
    env: [
      { name: 'A', value: '1' },
      { name: 'B', value: 'b' },
      { name: 'C', value: '3' },
    ],
  });
  assert.deepEqual(out.spec.containers[1], { name: 'side', image: 'side:1' });
});

test('SMP $patch: delete removes a list element; null removes a key', () => {
  const out = strategicMergePatch(
    pod,
    {
      metadata: { labels: { a: null, c: '3' } },
      spec: { containers: [{ name: 'side', $patch: 'delete' }] },
    },
    POD,
  );
  assert.deepEqual(
    out.spec.containers.map((c) => c.name),
    ['app'],
  );
  assert.deepEqual(out.metadata.labels, { b: '2', c: '3' });
});

test('SMP $patch: replace on a list and on a map', () => {
  const out = strategicMergePatch(
    pod,
    {
      metadata: { labels: { z: '9', $patch: 'replace' } },
      spec: { containers: [{ name: 'only', image: 'o' }, { $patch: 'replace' }] },
    },
    POD,
  );
  assert.deepEqual(out.spec.containers, [{ name: 'only', image: 'o' }]);
  assert.deepEqual(out.metadata.labels, { z: '9' });
  const deleted = strategicMergePatch(pod, { metadata: { labels: { $patch: 'delete' } } }, POD);
  assert.deepEqual(deleted.metadata.labels, {});
});

test('SMP primitive merge list (finalizers): union and $deleteFromPrimitiveList', () => {
  const out = strategicMergePatch(pod, { metadata: { finalizers: ['z', 'x'] } }, POD);
  assert.deepEqual([...out.metadata.finalizers].sort(), ['x', 'y', 'z']);
  const del = strategicMergePatch(pod, { metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] } }, POD);
  assert.deepEqual(del.metadata.finalizers, ['y']);
});

test('SMP tolerations are replaced (atomic list, no merge strategy)', () => {
  const out = strategicMergePatch(pod, { spec: { tolerations: [{ key: 'k2', operator: 'Exists' }] } }, POD);
  assert.deepEqual(out.spec.tolerations, [{ key: 'k2', operator: 'Exists' }]);
});

test('SMP $retainKeys clears volume source fields not retained', () => {
  const out = strategicMergePatch(
    pod,
    {
      spec: { volumes: [{ name: 'v', hostPath: { path: '/tmp' }, $retainKeys: ['name', 'hostPath'] }] },
    },
    POD,
  );
  assert.deepEqual(out.spec.volumes, [{ name: 'v', hostPath: { path: '/tmp' } }]);
  assert.throws(
    () => strategicMergePatch(pod, { spec: { volumes: [{ name: 'v', secret: {}, $retainKeys: ['name'] }] } }, POD),
    /retainKeys/,
  );
});

test('SMP deployment strategy uses retainKeys', () => {
  const dep = frozenCopy({ spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } } });
  const out = strategicMergePatch(dep, { spec: { strategy: { type: 'Recreate', $retainKeys: ['type'] } } }, DEPLOYMENT);
  assert.deepEqual(out, { spec: { strategy: { type: 'Recreate' } } });
});

test('SMP $setElementOrder orders the merged list', () => {
  const out = strategicMergePatch(
    pod,
    {
      spec: {
        '$setElementOrder/containers': [{ name: 'side' }, { name: 'new' }, { name: 'app' }],
        containers: [{ name: 'new', image: 'n' }],
      },
    },
    POD,
  );
  assert.deepEqual(
    out.spec.containers.map((c) => c.name),
    ['side', 'new', 'app'],
  );
});

test('SMP applies the patch kubectl apply computes (setElementOrder + deletes)', () => {
  const dep = frozenCopy({
    spec: {
      template: {
        spec: {
          containers: [
            { name: 'c', image: 'nginx', env: [{ name: 'A', value: '1' }] },
            { name: 'd', image: 'busybox' },
          ],
        },
      },
    },
  });
  const patch = {
    spec: {
      template: {
        spec: {
          '$setElementOrder/containers': [{ name: 'c' }],
          containers: [
            {
              '$setElementOrder/env': [{ name: 'B' }],
              env: [
                { name: 'B', value: '2' },
                { $patch: 'delete', name: 'A' },
              ],
              image: 'nginx:2',
              name: 'c',
            },
            { $patch: 'delete', name: 'd' },
          ],
        },
      },
    },
  };
  assert.deepEqual(strategicMergePatch(dep, patch, DEPLOYMENT), {
    spec: { template: { spec: { containers: [{ name: 'c', image: 'nginx:2', env: [{ name: 'B', value: '2' }] }] } } },
  });
});

test('SMP: unknown fields and schemaless patches behave like merge patch', () => {
  const obj = frozenCopy({ spec: { custom: { a: 1, list: [1, 2] } } });
  const patch = { spec: { custom: { b: 2, list: [3] } } };
  assert.deepEqual(strategicMergePatch(obj, patch, POD), { spec: { custom: { a: 1, b: 2, list: [3] } } });
  assert.deepEqual(strategicMergePatch(obj, patch), { spec: { custom: { a: 1, b: 2, list: [3] } } });
});

test('SMP errors: missing merge key, bad directive', () => {
  assert.throws(
    () => strategicMergePatch(pod, { spec: { containers: [{ image: 'x' }] } }, POD),
    /does not contain declared merge key: name/,
  );
  assert.throws(() => strategicMergePatch(pod, { metadata: { $patch: 'bogus' } }, POD), /unknown patch type: bogus/);
  assert.throws(() => strategicMergePatch(pod, [] as unknown, POD), PatchError);
});

test('SMP new list elements lose nulls and directives, and go first as upstream orders them', () => {
  const out = strategicMergePatch(
    pod,
    { spec: { containers: [{ name: 'n', image: null, env: [{ name: 'X', $patch: 'delete' }] }] } },
    POD,
  );
  // Without $setElementOrder upstream places patch-only elements before server-only ones.
  assert.deepEqual(
    out.spec.containers.map((c) => c.name),
    ['n', 'app', 'side'],
  );
  assert.deepEqual(out.spec.containers[0], { name: 'n', env: [] });
});
