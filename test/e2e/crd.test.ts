// Issue 3 part 1 acceptance: CustomResourceDefinitions with the real kubectl — a CRD with two
// versions, defaults and constraints, status and scale subresources and printer columns, served
// without restart, deleted with its objects, and surviving a server restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { versionedKubectl } from './streams.js';
import { startCluster, type Cluster } from './harness.js';
import { until } from '../support/until.js';

const CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wd]
    categories: [all]
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.selector
    additionalPrinterColumns:
    - name: Replicas
      type: integer
      jsonPath: .spec.replicas
    - name: Size
      type: string
      jsonPath: .spec.size
      priority: 1
    - name: Phase
      type: string
      jsonPath: .status.phase
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    schema:
      openAPIV3Schema:
        type: object
        description: A Widget is a test resource.
        properties:
          spec:
            type: object
            description: The desired state of the widget.
            required: [color]
            properties:
              color:
                type: string
                description: Color of the widget.
              replicas:
                type: integer
                minimum: 0
                maximum: 10
                default: 1
              size:
                type: string
                enum: [small, large]
                default: small
          status:
            type: object
            properties:
              replicas:
                type: integer
              selector:
                type: string
              phase:
                type: string
  - name: v1beta1
    served: true
    storage: false
    deprecated: true
    deprecationWarning: "stable.example.com/v1beta1 Widget is deprecated; use v1"
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [color]
            properties:
              color: {type: string}
              replicas: {type: integer, minimum: 0, maximum: 10, default: 1}
              size: {type: string, enum: [small, large], default: small}
          status:
            type: object
            properties:
              replicas: {type: integer}
              selector: {type: string}
              phase: {type: string}
`;

const widget = (name: string, spec: Record<string, unknown>, apiVersion = 'stable.example.com/v1') =>
  JSON.stringify({ apiVersion, kind: 'Widget', metadata: { name }, spec });

let cluster: Cluster;
const k = (args: string[], input?: string) => cluster.k(args, input);
const kr = (args: string[], input?: string) => cluster.kubectl(args, { input });

async function kfail(args: string[], input?: string): Promise<string> {
  const r = await kr(args, input);
  assert.notEqual(r.code, 0, `expected kubectl ${args.join(' ')} to fail, it printed:\n${r.stdout}${r.stderr}`);
  return r.stderr + r.stdout;
}

const rows = (out: string) =>
  out
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/));

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.cleanup();
});

test('a CRD is served within 2 s with NamesAccepted and Established', async () => {
  const started = Date.now();
  assert.match(
    await k(['apply', '-f', '-'], CRD),
    /customresourcedefinition.apiextensions.k8s.io\/widgets.stable.example.com created/,
  );
  await until(
    'widgets in discovery',
    async () => (await kr(['api-resources', '--api-group=stable.example.com'])).stdout.includes('widgets'),
    2000,
    100,
  );
  assert.ok(Date.now() - started < 2500);
  await k(['wait', '--for=condition=Established', '--timeout=5s', 'crd/widgets.stable.example.com']);
  const crd = JSON.parse(await k(['get', 'crd', 'widgets.stable.example.com', '-o', 'json']));
  const cond = (t: string) => crd.status.conditions.find((c: any) => c.type === t);
  assert.equal(cond('NamesAccepted').status, 'True');
  assert.equal(cond('NamesAccepted').reason, 'NoConflicts');
  assert.equal(cond('Established').status, 'True');
  assert.deepEqual(crd.status.storedVersions, ['v1']);
  assert.equal(crd.status.acceptedNames.kind, 'Widget');
  assert.deepEqual(crd.status.acceptedNames.shortNames, ['wd']);
  assert.deepEqual(crd.metadata.finalizers, ['customresourcecleanup.apiextensions.k8s.io']);
  const ar = await k(['api-resources', '--api-group=stable.example.com']);
  assert.match(ar, /widgets\s+wd\s+stable.example.com\/v1\s+true\s+Widget/);
});

test('objects are created with defaults and shown with printer columns', async () => {
  await k(['create', '-f', '-'], widget('alpha', { color: 'red', replicas: 2 }));
  await k(['create', '-f', '-'], widget('beta', { color: 'blue', size: 'large' }));
  const obj = JSON.parse(await k(['get', 'widget', 'beta', '-o', 'json']));
  assert.equal(obj.spec.replicas, 1);
  assert.equal(obj.metadata.generation, 1);
  const out = await k(['get', 'wd']);
  const table = rows(out);
  assert.deepEqual(table[0], ['NAME', 'REPLICAS', 'PHASE', 'AGE']);
  assert.deepEqual(table[1].slice(0, 3), ['alpha', '2', '<none>']);
  assert.deepEqual(table[2].slice(0, 3), ['beta', '1', '<none>']);
  const wide = rows(await k(['get', 'widgets', '-o', 'wide']));
  assert.deepEqual(wide[0], ['NAME', 'REPLICAS', 'SIZE', 'PHASE', 'AGE']);
  assert.deepEqual(wide[2].slice(0, 3), ['beta', '1', 'large']);
  assert.deepEqual(wide[1].slice(0, 3), ['alpha', '2', 'small']);
});

test('kubectl apply changes a custom resource, every client version (no strategic merge patch offered)', async () => {
  for (const version of ['1.27', '1.33']) {
    const bin = versionedKubectl(version);
    assert.ok(bin, `kubectl.${version} is installed beside the dispatcher`);
    const name = `applied-${version.replace('.', '-')}`;
    for (const color of ['green', 'purple']) {
      const r = await cluster.kubectl(['apply', '-f', '-'], { input: widget(name, { color, replicas: 3 }), bin });
      assert.equal(r.code, 0, r.stderr);
    }
    const obj = JSON.parse(await k(['get', 'widget', name, '-o', 'json']));
    assert.equal(obj.spec.color, 'purple', `kubectl ${version} applied the change`);
    await k(['delete', 'widget', name]);
  }
});

test('invalid objects are rejected naming the field', async () => {
  const out = await kfail(['create', '-f', '-'], widget('bad', { replicas: 11, size: 'huge' }));
  assert.match(out, /The Widget "bad" is invalid/);
  assert.match(out, /spec\.replicas: Invalid value: 11: spec\.replicas in body should be less than or equal to 10/);
  assert.match(out, /spec\.size: Unsupported value: "huge": supported values: "small", "large"/);
  assert.match(out, /spec\.color: Required value/);
  const typed = await kfail(['create', '-f', '-'], widget('bad2', { color: 'red', replicas: 'two' }));
  assert.match(
    typed,
    /spec\.replicas: Invalid value: "string": spec\.replicas in body must be of type integer: "string"/,
  );
});

test('unknown fields are dropped (and refused with --validate=strict)', async () => {
  const strict = await kfail(['create', '--validate=strict', '-f', '-'], widget('gamma', { color: 'green', bogus: 1 }));
  assert.match(strict, /unknown field "spec\.bogus"/);
  const r = await kr(['create', '--validate=false', '-f', '-'], widget('gamma', { color: 'green', bogus: 1 }));
  assert.equal(r.code, 0, r.stderr);
  const obj = JSON.parse(await k(['get', 'widget', 'gamma', '-o', 'json']));
  assert.equal(obj.spec.bogus, undefined);
  assert.equal(obj.spec.color, 'green');
});

test('the object is served at both versions; the deprecated one warns', async () => {
  const r = await kr(['get', 'widgets.v1beta1.stable.example.com', 'alpha', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const obj = JSON.parse(r.stdout);
  assert.equal(obj.apiVersion, 'stable.example.com/v1beta1');
  assert.equal(obj.spec.replicas, 2);
  assert.match(r.stderr, /Warning: stable.example.com\/v1beta1 Widget is deprecated; use v1/);
  // Created at v1beta1: stored at v1 with the v1beta1 defaults.
  await k(['create', '-f', '-'], widget('delta', { color: 'pink' }, 'stable.example.com/v1beta1'));
  const v1 = JSON.parse(await k(['get', 'widgets.v1.stable.example.com', 'delta', '-o', 'json']));
  assert.equal(v1.apiVersion, 'stable.example.com/v1');
  assert.equal(v1.spec.replicas, 1);
  const raw = JSON.parse(await k(['get', '--raw', '/apis/stable.example.com/v1beta1/namespaces/default/widgets']));
  assert.equal(raw.kind, 'WidgetList');
  assert.ok(raw.items.every((i: any) => i.apiVersion === 'stable.example.com/v1beta1'));
});

test('status changes only through the status subresource', async () => {
  const main = await kr(['patch', 'widget', 'alpha', '--type=merge', '-p', '{"status":{"phase":"Hacked"}}']);
  assert.equal(main.code, 0, main.stderr);
  assert.equal(JSON.parse(await k(['get', 'widget', 'alpha', '-o', 'json'])).status, undefined);
  await k([
    'patch',
    'widget',
    'alpha',
    '--subresource=status',
    '--type=merge',
    '-p',
    '{"status":{"phase":"Running","replicas":2,"selector":"app=alpha"}}',
  ]);
  const obj = JSON.parse(await k(['get', 'widget', 'alpha', '-o', 'json']));
  assert.equal(obj.status.phase, 'Running');
  assert.equal(obj.metadata.generation, 1);
  assert.deepEqual(rows(await k(['get', 'widget', 'alpha']))[1].slice(0, 3), ['alpha', '2', 'Running']);
  // Spec changes through the status subresource are ignored.
  await k(['patch', 'widget', 'alpha', '--subresource=status', '--type=merge', '-p', '{"spec":{"color":"black"}}']);
  assert.equal(JSON.parse(await k(['get', 'widget', 'alpha', '-o', 'json'])).spec.color, 'red');
});

test('kubectl scale works through the scale subresource', async () => {
  assert.match(await k(['scale', 'widget', 'alpha', '--replicas=4']), /widget.stable.example.com\/alpha scaled/);
  const obj = JSON.parse(await k(['get', 'widget', 'alpha', '-o', 'json']));
  assert.equal(obj.spec.replicas, 4);
  assert.equal(obj.metadata.generation, 2);
  const scale = JSON.parse(
    await k(['get', '--raw', '/apis/stable.example.com/v1/namespaces/default/widgets/alpha/scale']),
  );
  assert.equal(scale.kind, 'Scale');
  assert.equal(scale.spec.replicas, 4);
  assert.equal(scale.status.replicas, 2);
  assert.equal(scale.status.selector, 'app=alpha');
  const tooMany = await kfail(['scale', 'widget', 'alpha', '--replicas=40']);
  assert.match(tooMany, /spec\.replicas: Invalid value: 40: spec\.replicas in body should be less than or equal to 10/);
});

test('kubectl get all includes a CRD in category all', async () => {
  const out = await k(['get', 'all']);
  assert.match(out, /widget\.stable\.example\.com\/alpha/);
  assert.match(out, /service\/kubernetes/);
});

test('kubectl explain works from the schema', async () => {
  const out = await k(['explain', 'widget.spec']);
  assert.match(out, /KIND:\s+Widget/);
  assert.match(out, /The desired state of the widget/);
  assert.match(out, /color\s+<string> -required-/);
  assert.match(out, /Color of the widget/);
  const top = await k(['explain', 'widgets']);
  assert.match(top, /A Widget is a test resource/);
});

test('a name conflict in the same group is reported without serving', async () => {
  const other = CRD.replace('name: widgets.stable.example.com', 'name: gadgets.stable.example.com')
    .replace('plural: widgets', 'plural: gadgets')
    .replace('singular: widget', 'singular: gadget')
    .replace('shortNames: [wd]', 'shortNames: [gd]')
    .replace('kind: Widget\n', 'kind: Widget\n    listKind: GadgetList\n');
  await k(['apply', '-f', '-'], other);
  await until('NamesAccepted False', async () => {
    const crd = JSON.parse(await k(['get', 'crd', 'gadgets.stable.example.com', '-o', 'json']));
    const c = crd.status?.conditions?.find((x: any) => x.type === 'NamesAccepted');
    return c?.status === 'False' && c.reason === 'KindConflict' && c.message === '"Widget" is already in use';
  });
  assert.doesNotMatch(await k(['api-resources', '--api-group=stable.example.com']), /gadgets/);
  await k(['delete', 'crd', 'gadgets.stable.example.com']);
});

test('custom objects survive a server restart', async () => {
  await cluster.restart();
  const out = await k(['get', 'widgets', '-o', 'name']);
  assert.deepEqual(out.trim().split('\n').sort(), [
    'widget.stable.example.com/alpha',
    'widget.stable.example.com/beta',
    'widget.stable.example.com/delta',
    'widget.stable.example.com/gamma',
  ]);
  const obj = JSON.parse(await k(['get', 'widget', 'alpha', '-o', 'json']));
  assert.equal(obj.status.phase, 'Running');
  assert.equal(obj.spec.replicas, 4);
});

test('CRD updates re-serve: served:false leaves discovery, schema changes apply', async () => {
  const patch = JSON.stringify([
    { op: 'replace', path: '/spec/versions/1/served', value: false },
    {
      op: 'replace',
      path: '/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/replicas/maximum',
      value: 5,
    },
  ]);
  await k(['patch', 'crd', 'widgets.stable.example.com', '--type=json', '-p', patch]);
  await until(
    'v1beta1 gone from discovery',
    async () => !(await k(['api-versions'])).includes('stable.example.com/v1beta1'),
  );
  assert.match(
    await kfail(['get', 'widgets.v1beta1.stable.example.com', 'alpha']),
    /doesn't have a resource type|could not find the requested resource/,
  );
  await until('the new maximum', async () => {
    const r = await kr(['scale', 'widget', 'beta', '--replicas=6']);
    return r.code !== 0 && /should be less than or equal to 5/.test(r.stderr);
  });
  assert.equal(JSON.parse(await k(['get', 'widget', 'alpha', '-o', 'json'])).spec.replicas, 4);
});

test('deleting the CRD deletes every object and the resource', async () => {
  await k(['create', 'namespace', 'other']);
  await k(['create', '-n', 'other', '-f', '-'], widget('epsilon', { color: 'white' }));
  assert.match(await k(['delete', 'crd', 'widgets.stable.example.com', '--timeout=20s']), /deleted/);
  await until('the CRD to be gone', async () => (await kr(['get', 'crd', 'widgets.stable.example.com'])).code !== 0);
  assert.doesNotMatch(await k(['api-resources']), /widgets/);
  const gone = await kfail(['get', 'widgets']);
  assert.match(gone, /the server doesn't have a resource type "widgets"/);
  // Recreated: no objects are left from before.
  await k(['apply', '-f', '-'], CRD);
  await k(['wait', '--for=condition=Established', '--timeout=5s', 'crd/widgets.stable.example.com']);
  await until('widgets served again', async () => (await kr(['get', 'widgets', '-A'])).code === 0);
  const left = await kr(['get', 'widgets', '-A', '-o', 'name']);
  assert.equal(left.stdout.trim(), '');
});
