// Creating patches as Helm 3 upgrades objects (strategicpatch.CreateThreeWayMergePatch and a
// two-way JSON merge patch), checked by the patch text and by the object the server's own
// strategic merge patch makes of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMergePatch, createThreeWayMergePatch } from '../../src/machinery/patch/threeway.js';
import { strategicMergePatch } from '../../src/machinery/patch/strategic.js';

const DEPLOYMENT = 'io.k8s.api.apps.v1.Deployment';

function deployment(replicas: number, containers: Record<string, unknown>[], labels: Record<string, string> = {}) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web', ...labels } },
    spec: {
      replicas,
      selector: { matchLabels: { app: 'web' } },
      template: { metadata: { labels: { app: 'web' } }, spec: { containers } },
    },
  };
}

function upgraded(original: unknown, modified: unknown, current: unknown) {
  const patch = createThreeWayMergePatch(original, modified, current, DEPLOYMENT);
  return { patch, result: strategicMergePatch(current, patch, DEPLOYMENT) as ReturnType<typeof deployment> };
}

test('a field changed on the live object and set by the chart is reset; one the chart does not set is kept', () => {
  const original = deployment(1, [{ name: 'app', image: 'nginx:1' }]);
  const modified = deployment(1, [{ name: 'app', image: 'nginx:2' }]);
  const current = deployment(3, [{ name: 'app', image: 'nginx:1', imagePullPolicy: 'IfNotPresent' }], {
    team: 'blue',
  });
  (current as Record<string, unknown>).status = { replicas: 3 };
  const { patch, result } = upgraded(original, modified, current);
  assert.deepEqual(patch, {
    spec: {
      replicas: 1,
      template: {
        spec: { containers: [{ name: 'app', image: 'nginx:2' }], '$setElementOrder/containers': [{ name: 'app' }] },
      },
    },
  });
  assert.equal(result.spec.replicas, 1);
  assert.deepEqual(result.spec.template.spec.containers, [
    { name: 'app', image: 'nginx:2', imagePullPolicy: 'IfNotPresent' },
  ]);
  assert.equal((result.metadata.labels as Record<string, string>).team, 'blue', 'a label added with kubectl survives');
  assert.deepEqual((result as Record<string, unknown>).status, { replicas: 3 });
});

test('fields, list elements and primitives the chart removed are removed', () => {
  const original = deployment(2, [
    {
      name: 'app',
      image: 'a',
      args: ['--x'],
      env: [
        { name: 'A', value: '1' },
        { name: 'B', value: '2' },
      ],
    },
    { name: 'sidecar', image: 's' },
  ]);
  (original.metadata as Record<string, unknown>).finalizers = ['x/one', 'x/two'];
  const modified = deployment(2, [{ name: 'app', image: 'a', env: [{ name: 'B', value: '2' }] }]);
  (modified.metadata as Record<string, unknown>).finalizers = ['x/two'];
  const current = structuredClone(original);
  current.spec.template.spec.containers.push({ name: 'injected', image: 'i' });
  const { patch, result } = upgraded(original, modified, current);
  const podSpec = (patch.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  assert.deepEqual(podSpec.containers, [
    { name: 'app', args: null, env: [{ name: 'A', $patch: 'delete' }], '$setElementOrder/env': [{ name: 'B' }] },
    { name: 'sidecar', $patch: 'delete' },
  ]);
  assert.deepEqual((patch.metadata as Record<string, unknown>)['$deleteFromPrimitiveList/finalizers'], ['x/one']);
  assert.deepEqual(result.spec.template.spec.containers, [
    { name: 'app', image: 'a', env: [{ name: 'B', value: '2' }] },
    { name: 'injected', image: 'i' },
  ]);
  assert.deepEqual((result.metadata as Record<string, unknown>).finalizers, ['x/two']);
});

test('nothing changed anywhere gives an empty patch; a change made only on the cluster is kept', () => {
  const original = deployment(1, [{ name: 'app', image: 'a' }]);
  const current = deployment(1, [{ name: 'app', image: 'a', resources: { limits: { cpu: '1' } } }], { x: 'y' });
  assert.deepEqual(createThreeWayMergePatch(original, structuredClone(original), current, DEPLOYMENT), {});
});

test('a field the chart adds while the live object has another value takes the chart value', () => {
  const original = deployment(1, [{ name: 'app', image: 'a' }]);
  const modified = deployment(1, [{ name: 'app', image: 'a', ports: [{ containerPort: 80 }] }]);
  const current = deployment(1, [{ name: 'app', image: 'a', ports: [{ containerPort: 8080 }] }]);
  const { result } = upgraded(original, modified, current);
  assert.deepEqual(result.spec.template.spec.containers[0].ports, [{ containerPort: 80 }, { containerPort: 8080 }]);
});

test('retainKeys: a strategy type change clears the other keys', () => {
  const original = deployment(1, [{ name: 'app', image: 'a' }]);
  (original.spec as Record<string, unknown>).strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } };
  const modified = deployment(1, [{ name: 'app', image: 'a' }]);
  (modified.spec as Record<string, unknown>).strategy = { type: 'Recreate' };
  const current = structuredClone(original);
  const { patch, result } = upgraded(original, modified, current);
  assert.deepEqual((patch.spec as Record<string, unknown>).strategy, {
    type: 'Recreate',
    rollingUpdate: null,
    $retainKeys: ['type'],
  });
  assert.deepEqual((result.spec as Record<string, unknown>).strategy, { type: 'Recreate' });
});

test('two-way JSON merge patch for kinds without a schema', () => {
  assert.deepEqual(
    createMergePatch(
      { spec: { a: 1, b: { c: 2, d: 3 }, list: [1, 2] }, gone: true },
      { spec: { a: 1, b: { c: 2 }, list: [1] }, added: 'x' },
    ),
    { spec: { b: { d: null }, list: [1] }, gone: null, added: 'x' },
  );
  assert.deepEqual(createMergePatch({ a: { b: 1 } }, { a: { b: 1 } }), {});
});
