// Requests upstream refuses, refused with upstream's status code, reason and message, and
// leaving nothing stored or changed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

let cluster: Cluster;
let api: RawClient;
const CM = '/api/v1/namespaces/default/configmaps';
const NO_ROUTE = 'the server could not find the requested resource';

before(async () => {
  cluster = await startCluster();
  api = rawClient(cluster.kubeconfig);
});
after(async () => {
  api?.agent.destroy();
  await cluster?.cleanup();
});

type Reply = { status: number; body: any };
function refused(r: Reply, status: number, reason: string, message: string | RegExp): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.kind, 'Status');
  assert.equal(r.body.reason, reason);
  if (typeof message === 'string') assert.equal(r.body.message, message);
  else assert.match(r.body.message, message);
}

const configMap = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...extra },
  data: { v: '1' },
});

test('cluster-scoped resources have no routes under a namespace (404)', async () => {
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'scoped-node', labels: { a: 'b' } } };
  refused(await api.json('POST', '/api/v1/namespaces/default/nodes', node), 404, 'NotFound', NO_ROUTE);
  assert.equal((await api.json('GET', '/api/v1/nodes/scoped-node')).status, 404, 'nothing was created');

  assert.equal((await api.json('POST', '/api/v1/nodes', node)).status, 201);
  const path = '/api/v1/namespaces/default/nodes/scoped-node';
  refused(await api.json('GET', path), 404, 'NotFound', NO_ROUTE);
  refused(
    await api.json('PUT', path, { ...node, metadata: { name: 'scoped-node', labels: { a: 'changed' } } }),
    404,
    'NotFound',
    NO_ROUTE,
  );
  refused(
    await api.json(
      'PATCH',
      path,
      { metadata: { labels: { a: 'changed' } } },
      { 'Content-Type': 'application/merge-patch+json' },
    ),
    404,
    'NotFound',
    NO_ROUTE,
  );
  refused(await api.json('DELETE', path), 404, 'NotFound', NO_ROUTE);
  refused(await api.json('GET', `${path}/status`), 404, 'NotFound', NO_ROUTE);
  refused(await api.json('GET', '/api/v1/namespaces/default/nodes'), 404, 'NotFound', NO_ROUTE);
  const kept = await api.json('GET', '/api/v1/nodes/scoped-node');
  assert.equal(kept.status, 200, 'still there');
  assert.equal(kept.body.metadata.labels.a, 'b', 'unchanged');

  refused(await api.json('GET', '/api/v1/namespaces/default/persistentvolumes'), 404, 'NotFound', NO_ROUTE);
  refused(
    await api.json('POST', '/api/v1/namespaces/default/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'nested' },
    }),
    404,
    'NotFound',
    NO_ROUTE,
  );
  assert.equal((await api.json('GET', '/api/v1/namespaces/nested')).status, 404);
  const role = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'scoped-role' },
    rules: [],
  };
  refused(
    await api.json('POST', '/apis/rbac.authorization.k8s.io/v1/namespaces/default/clusterroles', role),
    404,
    'NotFound',
    NO_ROUTE,
  );
  assert.equal((await api.json('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/scoped-role')).status, 404);
});

test('namespaced resources without a namespace: only list and watch (404 for objects, 405 otherwise)', async () => {
  assert.equal((await api.json('POST', CM, configMap('keep-me'))).status, 201);
  refused(await api.json('POST', '/api/v1/configmaps/x', configMap('x')), 404, 'NotFound', NO_ROUTE);
  refused(await api.json('GET', '/api/v1/configmaps/keep-me'), 404, 'NotFound', NO_ROUTE);
  refused(await api.json('DELETE', '/api/v1/configmaps/keep-me'), 404, 'NotFound', NO_ROUTE);
  refused(
    await api.json('POST', '/api/v1/configmaps', configMap('x')),
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource',
  );
  refused(
    await api.json('DELETE', '/api/v1/configmaps'),
    405,
    'MethodNotAllowed',
    'the server does not allow this method on the requested resource',
  );
  assert.equal(
    (await api.json('GET', `${CM}/keep-me`)).status,
    200,
    'a collection delete across namespaces deleted nothing',
  );
  assert.equal((await api.json('GET', '/api/v1/configmaps')).status, 200);
});

test("a malformed metav1.Time anywhere is the decoder's 400", async () => {
  const cm = (meta: Record<string, unknown>) => configMap('timed', meta);
  refused(
    await api.json('POST', CM, cm({ creationTimestamp: 'yesterday' })),
    400,
    'BadRequest',
    'ConfigMap in version "v1" cannot be handled as a ConfigMap: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"',
  );
  refused(
    await api.json('POST', CM, cm({ deletionTimestamp: '2024-13-01T00:00:00Z' })),
    400,
    'BadRequest',
    'ConfigMap in version "v1" cannot be handled as a ConfigMap: parsing time "2024-13-01T00:00:00Z": month out of range',
  );
  refused(
    await api.json('POST', CM, cm({ creationTimestamp: '2024-01-01T00:00:00' })),
    400,
    'BadRequest',
    /cannot parse "" as "Z07:00"$/,
  );
  assert.equal((await api.json('GET', `${CM}/timed`)).status, 404, 'nothing stored');
  // Valid texts (a fraction and an offset are fine for Time) and null decode.
  assert.equal((await api.json('POST', CM, cm({ creationTimestamp: '2024-01-01T00:00:00.5+02:00' }))).status, 201);
  assert.equal((await api.json('POST', CM, configMap('timed-null', { creationTimestamp: null }))).status, 201);

  // Status times, written through the status subresource: refused, and the pod is unchanged.
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'timed-pod' },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  };
  const created = await api.json('POST', '/api/v1/namespaces/default/pods', pod);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const withBadTime = {
    ...created.body,
    status: { conditions: [{ type: 'Ready', status: 'False', lastTransitionTime: 'soon' }] },
  };
  refused(
    await api.json('PUT', '/api/v1/namespaces/default/pods/timed-pod/status', withBadTime),
    400,
    'BadRequest',
    'Pod in version "v1" cannot be handled as a Pod: parsing time "soon" as "2006-01-02T15:04:05Z07:00": cannot parse "soon" as "2006"',
  );
  // (The scheduler may write the pod's status meanwhile: check that the refused write left no trace.)
  const after = await api.json('GET', '/api/v1/namespaces/default/pods/timed-pod');
  assert.ok(
    !(after.body.status?.conditions ?? []).some(
      (c: any) => c.lastTransitionTime === 'soon' || (c.type === 'Ready' && c.status === 'False'),
    ),
    JSON.stringify(after.body.status),
  );

  // metav1.MicroTime wants exactly six fractional digits.
  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'timed-lease' },
    spec: { renewTime: '2024-01-01T00:00:00Z' },
  };
  refused(
    await api.json('POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', lease),
    400,
    'BadRequest',
    'Lease in version "v1" cannot be handled as a Lease: parsing time "2024-01-01T00:00:00Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"',
  );
  lease.spec.renewTime = '2024-01-01T00:00:00.000000Z';
  assert.equal((await api.json('POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', lease)).status, 201);
});

test('a resourceVersion on create is refused (upstream: a 500 from storage; here a 400)', async () => {
  const message = 'resourceVersion should not be set on objects to be created';
  refused(await api.json('POST', CM, configMap('versioned', { resourceVersion: '5' })), 400, 'BadRequest', message);
  assert.equal((await api.json('GET', `${CM}/versioned`)).status, 404, 'nothing stored');
  // As upstream: a dry run never reaches the storage check, and "0" means unset.
  assert.equal(
    (await api.json('POST', `${CM}?dryRun=All`, configMap('versioned', { resourceVersion: '5' }))).status,
    201,
  );
  assert.equal((await api.json('POST', CM, configMap('versioned', { resourceVersion: '0' }))).status, 201);
});

test('update bodies must name the object on the URL (PUT, patch, status, scale, finalize)', async () => {
  const created = await api.json('POST', CM, configMap('named'));
  assert.equal(created.status, 201);
  const obj = created.body;
  refused(
    await api.json('PUT', `${CM}/named`, { ...obj, metadata: { ...obj.metadata, name: 'other' }, data: { v: '2' } }),
    400,
    'BadRequest',
    'the name of the object (other) does not match the name on the URL (named)',
  );
  const { name: _n, ...nameless } = obj.metadata;
  refused(
    await api.json('PUT', `${CM}/named`, { ...obj, metadata: nameless, data: { v: '2' } }),
    400,
    'BadRequest',
    'the name of the object (named based on URL) was undeterminable: name must be provided',
  );
  refused(
    await api.json('PUT', `${CM}/named`, {
      ...obj,
      metadata: { ...obj.metadata, namespace: 'kube-system' },
      data: { v: '2' },
    }),
    400,
    'BadRequest',
    'the namespace of the provided object does not match the namespace sent on the request',
  );
  refused(
    await api.json(
      'PATCH',
      `${CM}/named`,
      { metadata: { name: 'other' }, data: { v: '2' } },
      { 'Content-Type': 'application/merge-patch+json' },
    ),
    400,
    'BadRequest',
    'the name of the object (other) does not match the name on the URL (named)',
  );
  assert.equal((await api.json('GET', `${CM}/named`)).body.data.v, '1', 'unchanged');

  const pod = await api.json('POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'named-pod' },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  });
  assert.equal(pod.status, 201);
  refused(
    await api.json('PUT', '/api/v1/namespaces/default/pods/named-pod/status', {
      ...pod.body,
      metadata: { ...pod.body.metadata, name: 'other' },
      status: { phase: 'Running' },
    }),
    400,
    'BadRequest',
    'the name of the object (other) does not match the name on the URL (named-pod)',
  );

  const deploy = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'named-deploy' },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'n' } },
      template: { metadata: { labels: { app: 'n' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    },
  };
  assert.equal((await api.json('POST', '/apis/apps/v1/namespaces/default/deployments', deploy)).status, 201);
  const scalePath = '/apis/apps/v1/namespaces/default/deployments/named-deploy/scale';
  const scale = (await api.json('GET', scalePath)).body;
  refused(
    await api.json('PUT', scalePath, {
      ...scale,
      metadata: { ...scale.metadata, name: 'other' },
      spec: { replicas: 5 },
    }),
    400,
    'BadRequest',
    'the name of the object (other) does not match the name on the URL (named-deploy)',
  );
  assert.equal((await api.json('GET', scalePath)).body.spec.replicas, 1, 'not scaled');

  assert.equal(
    (await api.json('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'fin' } }))
      .status,
    201,
  );
  const before = (await api.json('GET', '/api/v1/namespaces/fin')).body;
  refused(
    await api.json('PUT', '/api/v1/namespaces/fin/finalize', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'other' },
      spec: { finalizers: [] },
    }),
    400,
    'BadRequest',
    'the name of the object (other) does not match the name on the URL (fin)',
  );
  refused(
    await api.json('PUT', '/api/v1/namespaces/fin/finalize', {
      apiVersion: 'v1',
      kind: 'Namespace',
      spec: { finalizers: [] },
    }),
    400,
    'BadRequest',
    'the name of the object (fin based on URL) was undeterminable: name must be provided',
  );
  const afterNs = (await api.json('GET', '/api/v1/namespaces/fin')).body;
  assert.deepEqual(afterNs.spec, before.spec, 'finalizers unchanged');
  assert.equal(afterNs.metadata.resourceVersion, before.metadata.resourceVersion);
});

test('label and field selectors: upstream parser messages', async () => {
  const list = (q: string) => api.json('GET', `${CM}?${q}`);
  refused(
    await list('labelSelector=a%20in%20(b,'),
    400,
    'BadRequest',
    "unable to parse requirement: found '', expected: ',', or identifier",
  );
  refused(
    await list('labelSelector=a%00b%3Dc'),
    400,
    'BadRequest',
    "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
  );
  refused(
    await list('labelSelector=a%0Ab%3Dc'),
    400,
    'BadRequest',
    "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt",
  );
  refused(
    await list(`labelSelector=a%3D${'x'.repeat(64)}`),
    400,
    'BadRequest',
    `unable to parse requirement: values[0][a]: Invalid value: "${'x'.repeat(64)}": must be no more than 63 characters`,
  );
  refused(await list('labelSelector=a%20in'), 400, 'BadRequest', "unable to parse requirement: found '' expected: '('");
  // Upstream accepts these: "in" is a key here, and "()" is the set holding the empty value.
  assert.equal((await list('labelSelector=in')).status, 200);
  assert.equal((await list('labelSelector=a%20in%20()')).status, 200);
  refused(
    await list('fieldSelector=metadata.name%3Da%3Db'),
    400,
    'BadRequest',
    'invalid field selector: unescaped character in value: 61',
  );
  refused(
    await list('fieldSelector=metadata.name'),
    400,
    'BadRequest',
    "invalid selector: 'metadata.name'; can't understand 'metadata.name'",
  );
  refused(await list('fieldSelector=spec.nope%3Dx'), 400, 'BadRequest', 'field label not supported: spec.nope');
});

test('list and watch query parameters: strconv 400s and ListOptions 422s', async () => {
  const list = (q: string) => api.json('GET', `${CM}?${q}`);
  refused(await list('timeoutSeconds=abc'), 400, 'BadRequest', 'strconv.ParseInt: parsing "abc": invalid syntax');
  refused(await list('limit=abc'), 400, 'BadRequest', 'strconv.ParseInt: parsing "abc": invalid syntax');
  refused(await list('limit=1e99'), 400, 'BadRequest', 'strconv.ParseInt: parsing "1e99": invalid syntax');
  refused(
    await list('limit=99999999999999999999'),
    400,
    'BadRequest',
    'strconv.ParseInt: parsing "99999999999999999999": value out of range',
  );
  refused(await list('limit='), 400, 'BadRequest', 'strconv.ParseInt: parsing "": invalid syntax');
  refused(
    await list('watch=1&timeoutSeconds=1.5'),
    400,
    'BadRequest',
    'strconv.ParseInt: parsing "1.5": invalid syntax',
  );
  // A negative limit is no limit upstream.
  const all = await list('limit=-1');
  assert.equal(all.status, 200);
  assert.equal(all.body.metadata.continue, undefined);
  assert.ok(all.body.items.length > 1);
  refused(
    await list('resourceVersion=1&resourceVersionMatch=bogus'),
    422,
    'Invalid',
    'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "bogus": supported values: "Exact", "NotOlderThan", ""',
  );
  const both = await list('resourceVersionMatch=bogus');
  refused(
    both,
    422,
    'Invalid',
    /^ListOptions\.meta\.k8s\.io "" is invalid: \[resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided, resourceVersionMatch: Unsupported value: "bogus"/,
  );
  assert.deepEqual(both.body.details, {
    group: 'meta.k8s.io',
    kind: 'ListOptions',
    causes: [
      {
        reason: 'FieldValueForbidden',
        message: 'Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided',
        field: 'resourceVersionMatch',
      },
      {
        reason: 'FieldValueNotSupported',
        message: 'Unsupported value: "bogus": supported values: "Exact", "NotOlderThan", ""',
        field: 'resourceVersionMatch',
      },
    ],
  });
  refused(
    await list('sendInitialEvents=true'),
    422,
    'Invalid',
    'ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list',
  );
  refused(
    await list('watch=true&sendInitialEvents=true'),
    422,
    'Invalid',
    'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan',
  );
  // Booleans are never an error upstream: anything but "0"/"false" is true.
  assert.equal((await list('allowWatchBookmarks=maybe')).status, 200);
  const watch = await api.request('GET', `${CM}?watch=yes&timeoutSeconds=1`);
  assert.equal(watch.status, 200);
  assert.match(watch.body, /"type":"ADDED"/);
});

test('write options: invalid dryRun, fieldValidation and force are 422s naming the options kind', async () => {
  refused(
    await api.json('POST', `${CM}?dryRun=Some`, configMap('opt')),
    422,
    'Invalid',
    'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Some"}: supported values: "All"',
  );
  refused(
    await api.json('POST', `${CM}?fieldValidation=Loud`, configMap('opt')),
    422,
    'Invalid',
    'CreateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "Loud": supported values: "", "Ignore", "Strict", "Warn"',
  );
  assert.equal((await api.json('GET', `${CM}/opt`)).status, 404);
  assert.equal((await api.json('POST', CM, configMap('opt'))).status, 201);
  refused(
    await api.json(
      'PATCH',
      `${CM}/opt?force=true`,
      { data: { v: '2' } },
      { 'Content-Type': 'application/merge-patch+json' },
    ),
    422,
    'Invalid',
    'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch',
  );
  refused(
    await api.json('PUT', `${CM}/opt?dryRun=Nope`, configMap('opt')),
    422,
    'Invalid',
    'UpdateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Nope"}: supported values: "All"',
  );
  refused(
    await api.json('POST', `${CM}?fieldValidation=Strict`, { ...configMap('strict'), dataa: {} }),
    400,
    'BadRequest',
    'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "dataa"',
  );
  assert.equal((await api.json('GET', `${CM}/opt`)).body.data.v, '1');
});

test('DeleteOptions: body type errors are 400, invalid values 422, and a body wins over the query', async () => {
  assert.equal((await api.json('POST', CM, configMap('doomed'))).status, 201);
  // Node's client sends a DELETE body without a length unless told: say it, as kubectl does.
  const del = (body?: unknown, q = '') =>
    api.json(
      'DELETE',
      `${CM}/doomed${q}`,
      body,
      body === undefined ? {} : { 'Content-Length': String(Buffer.byteLength(JSON.stringify(body))) },
    );
  refused(
    await del({ preconditions: 'x' }),
    400,
    'BadRequest',
    'json: cannot unmarshal string into Go struct field DeleteOptions.preconditions of type v1.Preconditions',
  );
  refused(
    await del({ gracePeriodSeconds: 'abc' }),
    400,
    'BadRequest',
    'json: cannot unmarshal string into Go struct field DeleteOptions.gracePeriodSeconds of type int64',
  );
  refused(
    await del({ gracePeriodSeconds: 1.5 }),
    400,
    'BadRequest',
    'json: cannot unmarshal number 1.5 into Go struct field DeleteOptions.gracePeriodSeconds of type int64',
  );
  refused(
    await del({ preconditions: { uid: 5 } }),
    400,
    'BadRequest',
    'json: cannot unmarshal number into Go struct field Preconditions.preconditions.uid of type types.UID',
  );
  refused(
    await del({ dryRun: 'All' }),
    400,
    'BadRequest',
    'json: cannot unmarshal string into Go struct field DeleteOptions.dryRun of type []string',
  );
  refused(
    await del({ kind: 'Pod', apiVersion: 'v1' }),
    400,
    'BadRequest',
    'no kind "Pod" is registered for version "v1" in scheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme/register.go:27"',
  );
  refused(
    await del({ propagationPolicy: 'Sideways' }),
    422,
    'Invalid',
    'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil"',
  );
  refused(
    await del({ orphanDependents: true, propagationPolicy: 'Foreground' }),
    422,
    'Invalid',
    'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Invalid value: "Foreground": orphanDependents and deletionPropagation cannot be both set',
  );
  refused(
    await del(undefined, '?gracePeriodSeconds=x'),
    400,
    'BadRequest',
    'strconv.ParseInt: parsing "x": invalid syntax',
  );
  refused(
    await del(undefined, '?propagationPolicy=Sideways'),
    422,
    'Invalid',
    'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "Sideways": supported values: "Foreground", "Background", "Orphan", "nil"',
  );
  refused(
    await del(undefined, '?dryRun=Some'),
    422,
    'Invalid',
    'DeleteOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: []string{"Some"}: supported values: "All"',
  );
  assert.equal((await api.json('GET', `${CM}/doomed`)).status, 200, 'still there after every refusal');
  // With a body the query is not read (upstream decodes one or the other).
  const gone = await del(
    { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' },
    '?gracePeriodSeconds=x',
  );
  assert.equal(gone.status, 200, JSON.stringify(gone.body));
  assert.equal((await api.json('GET', `${CM}/doomed`)).status, 404);
});
