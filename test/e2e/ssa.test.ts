// Server-side apply with the real kubectl: field managers, conflicts, forcing, removal, and the
// client-side -> server-side apply migration.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { startCluster, type Cluster } from './harness.js';
import { rawClient } from './rawclient.js';

const KUBECTL_133 = '/usr/lib/google-cloud-sdk/bin/kubectl.1.33';

let cluster: Cluster;
const k = (args: string[], input?: string) => cluster.k(args, input);

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.cleanup();
});

function configMap(name: string, data: Record<string, string>): string {
  const lines = Object.entries(data).map(([key, v]) => `  ${key}: "${v}"`);
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: default\ndata:\n${lines.join('\n')}\n`;
}

function deployment(name: string, replicas: number | undefined, image: string, extraLabel?: string): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${name}
  namespace: default
  labels:
    app: ${name}${extraLabel ? `\n    ${extraLabel}: "yes"` : ''}
spec:${replicas === undefined ? '' : `\n  replicas: ${replicas}`}
  selector:
    matchLabels:
      app: ${name}
  template:
    metadata:
      labels:
        app: ${name}
    spec:
      containers:
      - name: main
        image: ${image}
        ports:
        - containerPort: 80
`;
}

async function getYaml(kind: string, name: string): Promise<any> {
  return parse(await k(['get', kind, name, '-n', 'default', '-o', 'yaml', '--show-managed-fields']));
}

test('two field managers: conflict, force, managedFields, removal', async () => {
  const a1 = await k(
    ['apply', '--server-side', '--field-manager=a', '-f', '-'],
    deployment('ssa-web', 2, 'nginx:1.27', 'extra'),
  );
  assert.match(a1, /deployment.apps\/ssa-web serverside-applied/);

  // b sets replicas to another value: a conflict naming the field and manager a.
  const r = await cluster.kubectl(['apply', '--server-side', '--field-manager=b', '-f', '-'], {
    input: deployment('ssa-web', 5, 'nginx:1.27'),
  });
  assert.notEqual(r.code, 0);
  const out = r.stderr + r.stdout;
  assert.match(out, /conflict with "a"/);
  assert.match(out, /\.spec\.replicas/);

  // Forced, b takes replicas.
  await k(
    ['apply', '--server-side', '--field-manager=b', '--force-conflicts', '-f', '-'],
    deployment('ssa-web', 5, 'nginx:1.27'),
  );
  let obj = await getYaml('deployment', 'ssa-web');
  assert.equal(obj.spec.replicas, 5);
  const managers = obj.metadata.managedFields.map((e: any) => `${e.manager}/${e.operation}`);
  assert.ok(managers.includes('a/Apply'), managers.join(','));
  assert.ok(managers.includes('b/Apply'), managers.join(','));
  const a = obj.metadata.managedFields.find((e: any) => e.manager === 'a');
  const b = obj.metadata.managedFields.find((e: any) => e.manager === 'b');
  assert.equal(a.fieldsV1['f:spec']['f:replicas'], undefined);
  assert.deepEqual(b.fieldsV1['f:spec']['f:replicas'], {});
  assert.equal(b.fieldsType, 'FieldsV1');
  assert.equal(b.apiVersion, 'apps/v1');
  // Associative list elements are keyed by their merge keys.
  assert.ok(a.fieldsV1['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"main"}']);

  // a stops applying its extra label: it goes from the object (a alone owned it).
  await k(['apply', '--server-side', '--field-manager=a', '-f', '-'], deployment('ssa-web', undefined, 'nginx:1.27'));
  obj = await getYaml('deployment', 'ssa-web');
  assert.equal(obj.metadata.labels.extra, undefined);
  assert.equal(obj.metadata.labels.app, 'ssa-web');
  assert.equal(obj.spec.replicas, 5, 'replicas stays: b owns it');

  // Without --show-managed-fields kubectl hides them.
  const plain = parse(await k(['get', 'deployment', 'ssa-web', '-o', 'yaml']));
  assert.equal(plain.metadata.managedFields, undefined);
});

test('server-side apply to the scale subresource (client-go ApplyScale): an Apply entry with subresource scale on the parent, conflicts with the replicas owner', async () => {
  await k(['apply', '--server-side', '--field-manager=owner', '-f', '-'], deployment('ssa-scale', 2, 'nginx:1.27'));
  const raw = rawClient(cluster.kubeconfig);
  // What client-go's ApplyScale sends: an autoscaling/v1 Scale as an apply patch to .../scale.
  const applyScale = (n: number, force = false) =>
    raw.json(
      'PATCH',
      `/apis/apps/v1/namespaces/default/deployments/ssa-scale/scale?fieldManager=scaler${force ? '&force=true' : ''}`,
      `{"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"ssa-scale","namespace":"default"},"spec":{"replicas":${n}}}`,
      { 'Content-Type': 'application/apply-patch+yaml' },
    );
  try {
    // owner applied replicas: another manager's apply to the scale conflicts with it.
    const conflict = await applyScale(4);
    assert.equal(conflict.status, 409, JSON.stringify(conflict.body));
    assert.match(conflict.body.message, /conflict with "owner"[\s\S]*\.spec\.replicas/);
    const forced = await applyScale(4, true);
    assert.equal(forced.status, 200, JSON.stringify(forced.body));
    assert.deepEqual([forced.body.kind, forced.body.spec], ['Scale', { replicas: 4 }]);
    let obj = await getYaml('deployment', 'ssa-scale');
    assert.equal(obj.spec.replicas, 4);
    const entry = (m: string) => obj.metadata.managedFields.find((e: any) => e.manager === m);
    assert.deepEqual(
      [entry('scaler').operation, entry('scaler').apiVersion, entry('scaler').subresource, entry('scaler').fieldsV1],
      ['Apply', 'apps/v1', 'scale', { 'f:spec': { 'f:replicas': {} } }],
    );
    assert.ok(entry('scaler').time);
    // The replicas went from owner's entry; the rest of it stays.
    assert.equal(entry('owner').fieldsV1['f:spec']['f:replicas'], undefined);
    assert.ok(entry('owner').fieldsV1['f:spec']['f:template']);
    // The scaler applies again (no conflict: it owns the field now); still one entry.
    assert.equal((await applyScale(3)).status, 200);
    obj = await getYaml('deployment', 'ssa-scale');
    assert.equal(obj.spec.replicas, 3);
    assert.equal(obj.metadata.managedFields.filter((e: any) => e.manager === 'scaler').length, 1);
    // kubectl scale (an Update of the scale) takes the field from the applier.
    await k(['scale', 'deployment/ssa-scale', '--replicas=1']);
    obj = await getYaml('deployment', 'ssa-scale');
    assert.equal(obj.spec.replicas, 1);
    const kubectl = obj.metadata.managedFields.find((e: any) => e.manager === 'kubectl' && e.subresource === 'scale');
    assert.deepEqual([kubectl?.operation, kubectl?.fieldsV1], ['Update', { 'f:spec': { 'f:replicas': {} } }]);
    // kubectl apply --subresource=scale sends the Deployment manifest itself: upstream's field
    // manager refuses its version on the Scale, and so does this server.
    const r = await cluster.kubectl(
      ['apply', '--server-side', '--subresource=scale', '--field-manager=scaler', '-f', '-'],
      { input: deployment('ssa-scale', 2, 'nginx:1.27'), bin: KUBECTL_133 },
    );
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /Incorrect version specified in apply patch. Specified patch version: apps\/v1, expected: autoscaling\/v1/,
    );
  } finally {
    raw.agent.destroy();
  }
  await k(['delete', 'deployment', 'ssa-scale']);
});

test('shared ownership and removal on a ConfigMap', async () => {
  await k(['apply', '--server-side', '--field-manager=a', '-f', '-'], configMap('ssa-cm', { x: '1', y: '2' }));
  await k(['apply', '--server-side', '--field-manager=b', '-f', '-'], configMap('ssa-cm', { x: '1' }));
  // a drops x (still owned by b) and y (owned by a alone).
  await k(['apply', '--server-side', '--field-manager=a', '-f', '-'], configMap('ssa-cm', { z: '3' }));
  const obj = await getYaml('configmap', 'ssa-cm');
  assert.deepEqual(obj.data, { x: '1', z: '3' });
});

test('client-side apply then server-side apply migrates without conflicts, and back', async () => {
  await k(['apply', '-f', '-'], deployment('ssa-mig', 1, 'nginx:1.27'));
  let obj = await getYaml('deployment', 'ssa-mig');
  assert.ok(
    obj.metadata.managedFields.some((e: any) => e.manager === 'kubectl-client-side-apply' && e.operation === 'Update'),
  );

  const out = await k(['apply', '--server-side', '-f', '-'], deployment('ssa-mig', 3, 'nginx:1.28'));
  assert.match(out, /serverside-applied/);
  obj = await getYaml('deployment', 'ssa-mig');
  assert.equal(obj.spec.replicas, 3);
  assert.equal(obj.spec.template.spec.containers[0].image, 'nginx:1.28');
  const kubectl = obj.metadata.managedFields.find((e: any) => e.manager === 'kubectl' && e.operation === 'Apply');
  assert.ok(kubectl, JSON.stringify(obj.metadata.managedFields));
  assert.ok(
    !obj.metadata.managedFields.some((e: any) => e.manager === 'kubectl-client-side-apply'),
    'kubectl migrated the client-side apply entry',
  );
  // The last-applied annotation follows the server-side apply.
  const last = JSON.parse(obj.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']);
  assert.equal(last.spec.replicas, 3);

  // Dropping a field previously set client-side removes it.
  await k(['apply', '--server-side', '-f', '-'], deployment('ssa-mig', undefined, 'nginx:1.28'));
  obj = await getYaml('deployment', 'ssa-mig');
  assert.equal(obj.spec.replicas, 1, 'replicas removed from the object, defaulted again');

  // And back to client-side apply.
  const back = await k(['apply', '-f', '-'], deployment('ssa-mig', 2, 'nginx:1.29'));
  assert.match(back, /configured/);
  obj = await getYaml('deployment', 'ssa-mig');
  assert.equal(obj.spec.replicas, 2);
  assert.equal(obj.spec.template.spec.containers[0].image, 'nginx:1.29');
});

test('server-side apply of a new object creates it with an Apply entry; dry run and diff work', async () => {
  const out = await k(
    ['apply', '--server-side', '--field-manager=creator', '-f', '-'],
    configMap('ssa-new', { a: '1' }),
  );
  assert.match(out, /configmap\/ssa-new serverside-applied/);
  const obj = await getYaml('configmap', 'ssa-new');
  assert.deepEqual(
    obj.metadata.managedFields.map((e: any) => [e.manager, e.operation]),
    [['creator', 'Apply']],
  );
  // As upstream: an applied map field is not itself a member, its keys are.
  assert.deepEqual(obj.metadata.managedFields[0].fieldsV1, { 'f:data': { 'f:a': {} } });
  // kubectl diff uses server-side dry-run apply.
  const diff = await cluster.kubectl(['diff', '--server-side', '--field-manager=creator', '-f', '-'], {
    input: configMap('ssa-new', { a: '2' }),
  });
  assert.equal(diff.code, 1, diff.stderr);
  assert.match(diff.stdout, /\+\s+a: "2"/);
  const dry = await k(
    ['apply', '--server-side', '--field-manager=creator', '--dry-run=server', '-f', '-'],
    configMap('ssa-new', { a: '3' }),
  );
  assert.match(dry, /serverside-applied \(server dry run\)/);
  assert.equal((await getYaml('configmap', 'ssa-new')).data.a, '1');
});
