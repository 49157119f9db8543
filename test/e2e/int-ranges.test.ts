// Integer fields over HTTP: a number that is no int32/int64 (2^31, 2^63, 1e308, 1.2e29, 1.5) is
// a 400 naming the field on every write path (create, update, merge/strategic/JSON patch, apply,
// the scale subresource), and nothing is stored. A custom resource cannot store a huge replicas
// for its scale subresource. A ReplicaSet with the largest valid replicas (2^31-1) makes bounded
// progress while the server keeps answering.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

let cluster: Cluster;
let api: RawClient;
const NS = '/apis/apps/v1/namespaces/default';
const MAX_INT32 = 2 ** 31 - 1;

before(async () => {
  cluster = await startCluster({ args: ['--simulated-nodes', '0'] });
  api = rawClient(cluster.kubeconfig);
});
after(async () => {
  api?.agent.destroy();
  await cluster?.cleanup();
});

const podTemplate = (app: string) => ({
  metadata: { labels: { app } },
  spec: { containers: [{ name: 'c', image: 'x' }] },
});
const deployment = (name: string, replicas: unknown) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: podTemplate(name) },
});
const replicaSet = (name: string, replicas: unknown) => ({
  apiVersion: 'apps/v1',
  kind: 'ReplicaSet',
  metadata: { name },
  spec: { replicas, selector: { matchLabels: { app: name } }, template: podTemplate(name) },
});

/** A raw JSON body with `literal` spliced in where the placeholder string was. */
const withLiteral = (obj: unknown, literal: string) => JSON.stringify(obj).replace('"@N@"', literal);

const decodeError = (kind: string, number: string, field: string, type = 'int32') =>
  `${kind} in version "v1" cannot be handled as a ${kind}: json: cannot unmarshal number ${number} into Go struct field ${field} of type ${type}`;

function assert400(r: { status: number; body: any }, message: string | RegExp): void {
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.reason, 'BadRequest');
  if (typeof message === 'string') assert.equal(r.body.message, message);
  else assert.match(r.body.message, message);
}

test('create: out-of-range and fractional integers are 400 with the decoder text, nothing stored', async () => {
  for (const literal of ['2147483648', '9223372036854775808', '1e308', '1.2e29', '1.5', '-2147483649']) {
    const r = await api.json('POST', `${NS}/replicasets`, withLiteral(replicaSet('bad', '@N@'), literal));
    assert400(r, decodeError('ReplicaSet', literal, 'ReplicaSetSpec.spec.replicas'));
    const d = await api.json('POST', `${NS}/deployments`, withLiteral(deployment('bad', '@N@'), literal));
    assert400(d, decodeError('Deployment', literal, 'DeploymentSpec.spec.replicas'));
  }
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'bad' },
    spec: {
      activeDeadlineSeconds: '@N@',
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x' }] } },
    },
  };
  const j = await api.json('POST', '/apis/batch/v1/namespaces/default/jobs', withLiteral(job, '9223372036854775808'));
  assert400(j, decodeError('Job', '9223372036854775808', 'JobSpec.spec.activeDeadlineSeconds', 'int64'));
  const pvc = {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'bad' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  };
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'bad' },
    spec: {
      terminationGracePeriodSeconds: '@N@',
      containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 1.5 }] }],
    },
  };
  assert400(
    await api.json('POST', '/api/v1/namespaces/default/pods', withLiteral(pod, '1')),
    decodeError('Pod', '1.5', 'ContainerPort.spec.containers.ports.containerPort'),
  );
  assert400(
    await api.json(
      'POST',
      '/api/v1/namespaces/default/pods',
      withLiteral({ ...pod, spec: { ...pod.spec, containers: [{ name: 'c', image: 'x' }] } }, '1e19'),
    ),
    decodeError('Pod', '1e19', 'PodSpec.spec.terminationGracePeriodSeconds', 'int64'),
  );
  assert400(
    await api.json('POST', '/api/v1/namespaces/default/persistentvolumeclaims', {
      ...pvc,
      metadata: { name: 'bad', generation: 2 ** 64 },
    }),
    decodeError('PersistentVolumeClaim', '18446744073709552000', 'ObjectMeta.metadata.generation', 'int64'),
  );
  assert400(
    await api.json('POST', `${NS}/replicasets`, replicaSet('bad', '3')),
    /cannot unmarshal string into Go struct field ReplicaSetSpec\.spec\.replicas of type int32$/,
  );
  for (const path of [
    `${NS}/replicasets/bad`,
    `${NS}/deployments/bad`,
    '/apis/batch/v1/namespaces/default/jobs/bad',
    '/api/v1/namespaces/default/pods/bad',
    '/api/v1/namespaces/default/persistentvolumeclaims/bad',
  ]) {
    assert.equal((await api.json('GET', path)).status, 404, path);
  }
  // The edges themselves are valid.
  const ok = await api.json('POST', `${NS}/replicasets`, replicaSet('edge', 0));
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
});

test('update, patches, apply and scale: 400 naming the field, the stored object unchanged', async () => {
  const created = await api.json('POST', `${NS}/deployments`, deployment('web', 1));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const path = `${NS}/deployments/web`;
  const field =
    /json: cannot unmarshal number (2147483648|1e\+?308|1\.2e\+?29|1\.5) into Go struct field DeploymentSpec\.spec\.replicas of type int32$/;

  const put = await api.json(
    'PUT',
    path,
    withLiteral({ ...created.body, spec: { ...created.body.spec, replicas: '@N@' } }, '2147483648'),
  );
  assert400(put, decodeError('Deployment', '2147483648', 'DeploymentSpec.spec.replicas'));
  assert400(
    await api.json('PATCH', path, '{"spec":{"replicas":1e308}}', { 'Content-Type': 'application/merge-patch+json' }),
    field,
  );
  assert400(
    await api.json('PATCH', path, '{"spec":{"replicas":1.2e29}}', {
      'Content-Type': 'application/strategic-merge-patch+json',
    }),
    field,
  );
  assert400(
    await api.json('PATCH', path, '[{"op":"replace","path":"/spec/replicas","value":1.5}]', {
      'Content-Type': 'application/json-patch+json',
    }),
    field,
  );
  const apply = await api.request(
    'PATCH',
    `${path}?fieldManager=test&force=true`,
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2147483648\n',
    {
      'Content-Type': 'application/apply-patch+yaml',
    },
  );
  assert400({ status: apply.status, body: JSON.parse(apply.body) }, field);

  // The scale subresource: an autoscaling/v1 Scale whose spec.replicas is an int32.
  const scalePath = `${path}/scale`;
  const scale = (await api.json('GET', scalePath)).body;
  const scaleError = decodeError('Scale', '2147483648', 'ScaleSpec.spec.replicas');
  assert400(
    await api.json('PUT', scalePath, withLiteral({ ...scale, spec: { replicas: '@N@' } }, '2147483648')),
    scaleError,
  );
  assert400(
    await api.json(
      'PATCH',
      scalePath,
      { spec: { replicas: 2 ** 31 } },
      { 'Content-Type': 'application/merge-patch+json' },
    ),
    scaleError,
  );
  assert400(
    await api.json(
      'PATCH',
      scalePath,
      { spec: { replicas: 1e308 } },
      { 'Content-Type': 'application/merge-patch+json' },
    ),
    /cannot unmarshal number 1e\+308 into Go struct field ScaleSpec\.spec\.replicas of type int32$/,
  );
  assert.equal(
    (await api.json('PATCH', scalePath, { spec: { replicas: -1 } }, { 'Content-Type': 'application/merge-patch+json' }))
      .status,
    422,
  );

  const after = await api.json('GET', path);
  assert.equal(after.body.spec.replicas, 1);
  assert.equal(after.body.metadata.generation, 1);
  const ok = await api.json(
    'PATCH',
    scalePath,
    { spec: { replicas: 0 } },
    { 'Content-Type': 'application/merge-patch+json' },
  );
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
});

test('a custom resource cannot hold a replicas its scale subresource cannot carry', async () => {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'scalers.ints.example.com' },
    spec: {
      group: 'ints.example.com',
      scope: 'Namespaced',
      names: { plural: 'scalers', singular: 'scaler', kind: 'Scaler' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              },
            },
          },
          subresources: {
            status: {},
            scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas' },
          },
        },
      ],
    },
  };
  assert.equal((await api.json('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd)).status, 201);
  const base = '/apis/ints.example.com/v1/namespaces/default/scalers';
  let r = { status: 404, body: {} as any };
  for (let i = 0; i < 100 && r.status === 404; i++) {
    r = await api.json('GET', base);
    if (r.status === 404) await new Promise((res) => setTimeout(res, 100));
  }
  const cr = (name: string, replicas: string) =>
    `{"apiVersion":"ints.example.com/v1","kind":"Scaler","metadata":{"name":"${name}"},"spec":{"replicas":${replicas}}}`;
  const big = await api.json('POST', base, cr('big', '3000000000'));
  assert.equal(big.status, 422, JSON.stringify(big.body));
  assert.match(
    big.body.message,
    /\.spec\.replicas: Invalid value: 3000000000: should be less than or equal to 2147483647/,
  );
  const huge = await api.json('POST', base, cr('huge', '1e20'));
  assert.equal(huge.status, 422, JSON.stringify(huge.body));
  assert.match(
    huge.body.message,
    /\.spec\.replicas: Invalid value: 0: \.spec\.replicas accessor error: 1e\+20 is of the type float64, expected int64/,
  );
  assert.equal((await api.json('POST', base, cr('fine', String(MAX_INT32)))).status, 201);
  const scale = await api.json('GET', `${base}/fine/scale`);
  assert.equal(scale.body.spec.replicas, MAX_INT32);
  assert400(
    await api.json(
      'PATCH',
      `${base}/fine/scale`,
      { spec: { replicas: 2 ** 31 } },
      { 'Content-Type': 'application/merge-patch+json' },
    ),
    /ScaleSpec\.spec\.replicas of type int32$/,
  );
  const upd = await api.json('PATCH', `${base}/fine`, '{"spec":{"replicas":1e20}}', {
    'Content-Type': 'application/merge-patch+json',
  });
  assert.equal(upd.status, 422, JSON.stringify(upd.body));
  assert.equal((await api.json('GET', `${base}/fine`)).body.spec.replicas, MAX_INT32);
});

test('watch timeoutSeconds is parsed as an int64 (400 otherwise)', async () => {
  const bad = await api.json('GET', '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=0.1s');
  assert400(bad, 'strconv.ParseInt: parsing "0.1s": invalid syntax');
  assert400(
    await api.json('GET', '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=99999999999999999999'),
    'strconv.ParseInt: parsing "99999999999999999999": value out of range',
  );
  // A huge valid timeout does not overflow the timer into an immediate close.
  const started = Date.now();
  const r = await Promise.race([
    api.request('GET', '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=9223372036').then(
      () => 'closed',
      () => 'closed',
    ),
    new Promise((res) => setTimeout(() => res('open'), 1500)),
  ]);
  assert.equal(r, 'open', `watch closed after ${Date.now() - started} ms`);
});

test('a ReplicaSet with replicas 2^31-1 makes bounded progress and the server keeps answering', async () => {
  const rs = await api.json('POST', `${NS}/replicasets`, replicaSet('huge', MAX_INT32));
  assert.equal(rs.status, 201, JSON.stringify(rs.body));
  const podCount = async () => {
    const l = await api.json('GET', '/api/v1/namespaces/default/pods?limit=1&labelSelector=app%3Dhuge');
    return (l.body.metadata.remainingItemCount ?? 0) + l.body.items.length;
  };
  let last = 0;
  for (let i = 0; i < 6; i++) {
    await new Promise((res) => setTimeout(res, 500));
    const t0 = Date.now();
    const ready = await api.request('GET', '/readyz');
    const count = await podCount();
    const ms = Date.now() - t0;
    assert.equal(ready.status, 200);
    assert.ok(ms < 3000, `requests took ${ms} ms`);
    last = count;
  }
  assert.ok(last > 0, 'pods are being created');
  // Deleting the set removes its pods; the server settles.
  assert.equal((await api.json('DELETE', `${NS}/replicasets/huge?propagationPolicy=Foreground`)).status, 200);
  for (let i = 0; i < 300 && (await podCount()) > 0; i++) await new Promise((res) => setTimeout(res, 200));
  assert.equal(await podCount(), 0);
});
