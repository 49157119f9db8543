// Response and request shapes official clients and kubectl depend on (k8ts issue 19): error
// Status bytes, body decoding errors, and the objects kube-apiserver serves on its own.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, until, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

let cluster: Cluster;
let api: RawClient;

before(async () => {
  cluster = await startCluster({ args: ['--simulated-nodes', '1'] });
  api = rawClient(cluster.kubeconfig);
});
after(async () => {
  api?.agent.destroy();
  await cluster?.cleanup();
});

const CONFIGMAP_YAML = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: "1"\n';

test('an error Status is written in metav1.Status field order with a trailing newline', async () => {
  const r = await api.request('GET', '/api/v1/namespaces/default/configmaps/missing');
  assert.equal(r.status, 404);
  assert.equal(
    r.body,
    '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \\"missing\\" not found","reason":"NotFound","details":{"name":"missing","kind":"configmaps"},"code":404}\n',
  );
});

test('a YAML body to a raw create decodes as YAML', async () => {
  const r = await api.request('POST', '/api/v1/namespaces/default/configmaps', CONFIGMAP_YAML, {
    'Content-Type': 'application/yaml',
  });
  assert.equal(r.status, 201, r.body);
  assert.deepEqual(JSON.parse(r.body).data, { a: '1' });
});

test('a body of another kind, or not in its declared media type, gets upstream decode errors', async () => {
  const asJSON = await api.request('POST', '/api/v1/namespaces', CONFIGMAP_YAML, {
    'Content-Type': 'application/json',
  });
  assert.equal(asJSON.status, 400);
  assert.equal(
    JSON.parse(asJSON.body).message,
    "the object provided is unrecognized (must be of type Namespace): couldn't get version/kind; json parse error: invalid character 'a' looking for beginning of value (61706956657273696f6e3a2076310a6b696e643a20436f6e6669674d6170 ...)",
  );
  const otherKind = await api.request('POST', '/api/v1/namespaces', CONFIGMAP_YAML, {
    'Content-Type': 'application/yaml',
  });
  assert.equal(otherKind.status, 400);
  assert.deepEqual(JSON.parse(otherKind.body), {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message:
      'ConfigMap in version "v1" cannot be handled as a Namespace: converting (v1.ConfigMap) to (core.Namespace): unknown conversion',
    reason: 'BadRequest',
    code: 400,
  });
  const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' } };
  const otherGroup = await api.json('POST', '/api/v1/namespaces/default/pods', deployment);
  assert.equal(
    otherGroup.body.message,
    'Deployment in version "v1" cannot be handled as a Pod: converting (v1.Deployment) to (core.Pod): unknown conversion',
  );
  const unknown = await api.json('POST', '/apis/apps/v1/namespaces/default/deployments', {
    ...deployment,
    kind: 'Nope',
  });
  assert.equal(
    unknown.body.message,
    'Nope in version "v1" cannot be handled as a Deployment: no kind "Nope" is registered for version "apps/v1" in scheme "pkg/api/legacyscheme/scheme.go:30"',
  );
  // kubectl create --raw sends files as they are, declared JSON (test-cmd's own check).
  const r = await cluster.kubectl(['create', '--raw', '/api/v1/namespaces', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } }),
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /cannot be handled as a Namespace: converting \(v1\.Pod\)/);
});

const workload = (kind: 'StatefulSet' | 'DaemonSet', name: string, cause: string) => `apiVersion: apps/v1
kind: ${kind}
metadata:
  name: ${name}
  annotations:
    kubernetes.io/change-cause: ${cause}
spec:
${kind === 'StatefulSet' ? '  serviceName: web\n  replicas: 1\n' : ''}  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      containers:
      - name: c
        image: busybox:1.36
`;

test('ControllerRevisions carry their owner annotations: rollout history shows CHANGE-CAUSE', async () => {
  for (const [kind, resource] of [
    ['StatefulSet', 'sts'],
    ['DaemonSet', 'ds'],
  ] as const) {
    const name = `hist-${resource}`;
    await cluster.k(['apply', '-f', '-'], workload(kind, name, 'first-cause'));
    await until(`${kind} revision 1`, async () =>
      (await cluster.k(['rollout', 'history', `${resource}/${name}`])).includes('first-cause'),
    );
    const patched = workload(kind, name, 'second-cause').replace('image: busybox:1.36', 'image: busybox:1.37');
    await cluster.k(['apply', '-f', '-'], patched);
    const history = await until(`${kind} revision 2`, async () => {
      const out = await cluster.k(['rollout', 'history', `${resource}/${name}`]);
      return out.includes('second-cause') && out;
    });
    assert.match(history, /REVISION\s+CHANGE-CAUSE\n1\s+first-cause\n2\s+second-cause/, history);
  }
});

test('kubectl get cs lists the scheduler, controller manager and etcd as Healthy, with upstream columns', async () => {
  const out = await until('components healthy', async () => {
    const r = await cluster.kubectl(['get', 'cs']);
    return r.code === 0 && (r.stdout.match(/Healthy/g) ?? []).length === 3 && r;
  });
  const lines = out.stdout.trim().split('\n');
  assert.match(lines[0], /^NAME\s+STATUS\s+MESSAGE\s+ERROR$/);
  assert.match(lines[1], /^controller-manager\s+Healthy\s+ok\s*$/);
  assert.match(lines[2], /^etcd-0\s+Healthy\s+\{"health":"true","reason":""\}\s*$/);
  assert.match(lines[3], /^scheduler\s+Healthy\s+ok\s*$/);
  assert.match(out.stderr, /Warning: v1 ComponentStatus is deprecated in v1\.19\+/);
  const created = await api.json('POST', '/api/v1/componentstatuses', {
    apiVersion: 'v1',
    kind: 'ComponentStatus',
    metadata: { name: 'x' },
  });
  assert.equal(created.status, 405);
});

test('kubectl get apiservices lists every served group/version as Local and Available', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.shapes.example.com}
spec:
  group: shapes.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
`,
  );
  // The CRD's APIService is registered (and marked Available) by controllers, shortly after.
  const out = await until('the CRD version as a Local APIService', async () => {
    const o = await cluster.k(['get', 'apiservices']);
    return /^v1\.shapes\.example\.com\s+Local\s+True/m.test(o) ? o : undefined;
  });
  const lines = out.trim().split('\n');
  assert.match(lines[0], /^NAME\s+SERVICE\s+AVAILABLE\s+AGE$/);
  const rows = new Map(lines.slice(1).map((l) => [l.split(/\s+/)[0], l.split(/\s+/).slice(1, 3).join(' ')]));
  const groups = JSON.parse(await cluster.k(['get', '--raw', '/apis'])).groups.flatMap((g: any) =>
    g.versions.map((v: any) => `${v.version}.${g.name}`),
  );
  for (const name of ['v1.', ...groups, 'v1.shapes.example.com'])
    assert.equal(rows.get(name), 'Local True', `${name} in\n${out}`);
  const apps = JSON.parse(await cluster.k(['get', 'apiservice', 'v1.apps', '-o', 'json']));
  assert.deepEqual(apps.spec, { group: 'apps', version: 'v1', groupPriorityMinimum: 17800, versionPriority: 15 });

  // Discovery lists groups as the APIServices order them (highest groupPriorityMinimum, then name),
  // each group's versions by versionPriority: legacy /apis and aggregated discovery alike.
  const specs = JSON.parse(await cluster.k(['get', 'apiservices', '-o', 'json'])).items.map((o: any) => o.spec);
  const byGroup = new Map<string, any[]>();
  for (const spec of specs) byGroup.set(spec.group ?? '', [...(byGroup.get(spec.group ?? '') ?? []), spec]);
  byGroup.delete('');
  const top = (g: string) => Math.max(...byGroup.get(g)!.map((x) => x.groupPriorityMinimum));
  const expected = [...byGroup.keys()]
    .sort((a, b) => top(b) - top(a) || (a < b ? -1 : 1))
    .map((g) => [
      g,
      byGroup
        .get(g)!
        .sort((a, b) => b.versionPriority - a.versionPriority)
        .map((x) => x.version),
    ]);
  const legacy = JSON.parse(await cluster.k(['get', '--raw', '/apis'])).groups;
  assert.deepEqual(
    legacy.map((g: any) => [g.name, g.versions.map((v: any) => v.version)]),
    expected,
  );
  assert.equal(legacy[0].name, 'apiregistration.k8s.io');
  assert.ok(
    expected.findIndex(([g]) => g === 'shapes.example.com') < expected.findIndex(([g]) => g === 'metrics.k8s.io'),
  );
  const aggregated = await api.json('GET', '/apis', undefined, {
    Accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList',
  });
  assert.deepEqual(
    aggregated.body.items.map((g: any) => [g.metadata.name, g.versions.map((v: any) => v.version)]),
    expected,
  );
  assert.deepEqual(
    apps.status.conditions.map((c: any) => [c.type, c.status, c.reason, c.message]),
    [['Available', 'True', 'Local', 'Local APIServices are always available']],
  );
});
