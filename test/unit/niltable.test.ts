// Upstream's nulls (src/machinery/protobuf/niltable.ts): Go writes a nil list, map or pointer in a
// field without omitempty as `null`. The table is checked against the protobuf wire table (both
// generated from the Go types, by separate readers), then its application is checked on its own,
// through the protobuf decoder, and through a real API server: JSON and protobuf writes, reads,
// merge/strategic/JSON patches, server-side apply and managedFields of such objects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { NIL_FIELDS } from '../../src/machinery/protobuf/niltable.js';
import { MESSAGES } from '../../src/machinery/protobuf/wiretable.js';
import { fillNilFields, fillNilFieldsOf } from '../../src/machinery/protobuf/nilfields.js';
import { decodeEnvelope, encodeEnvelope } from '../../src/machinery/protobuf/index.js';
import { startTestApi, type TestApi } from './client-fixture.js';
import { rawClient, type RawClient } from '../e2e/rawclient.js';

/** Messages whose JSON is not the JSON of their fields (the codec's special cases). */
const CUSTOM_JSON = /^apiextensions\.v1\.JSONSchemaPropsOr|\.v1alpha\d\./;

test('the table agrees with the wire table: every list, map and pointer without omitempty, no other', () => {
  const fromWire: Record<string, Record<string, string>> = {};
  for (const [name, row] of Object.entries(MESSAGES)) {
    if (row.w || CUSTOM_JSON.test(name)) continue;
    const isList = row.f.some(([, , type]) => type === 'meta.v1.ListMeta');
    for (const [json, , type, flags] of row.f) {
      if (/[ozi]/.test(flags) || (isList && json === 'items')) continue;
      const kind = type.startsWith('map<')
        ? 'map'
        : flags.includes('r') || MESSAGES[type]?.w
          ? 'list'
          : flags.includes('p')
            ? 'pointer'
            : undefined;
      if (kind) (fromWire[name] ??= {})[json] = kind;
    }
  }
  // meta.v1.Table has no protobuf form of its columns and rows: only the Go reader sees them.
  const fromGo = Object.fromEntries(Object.entries(NIL_FIELDS).filter(([m]) => Object.hasOwn(MESSAGES, m)));
  for (const [m, fields] of Object.entries(fromGo))
    for (const f of Object.keys(fields))
      assert.ok(
        MESSAGES[m].f.some((r) => r[0] === f),
        `${m}.${f} on the wire`,
      );
  assert.deepEqual(fromGo, fromWire);
  // The facts the issue names, and a few the table found.
  assert.deepEqual(NIL_FIELDS['rbac.v1.ClusterRole'], { rules: 'list' });
  assert.deepEqual(NIL_FIELDS['discovery.v1.EndpointSlice'], { endpoints: 'list', ports: 'list' });
  assert.equal(NIL_FIELDS['autoscaling.v2.HorizontalPodAutoscalerStatus'].currentMetrics, 'list');
  assert.equal(NIL_FIELDS['apiextensions.v1.CustomResourceDefinitionStatus'].storedVersions, 'list');
  assert.equal(NIL_FIELDS['core.v1.LimitRangeSpec'].limits, 'list');
  assert.equal(NIL_FIELDS['metrics.v1beta1.NodeMetrics'].usage, 'map');
  assert.equal(NIL_FIELDS['apps.v1.DeploymentSpec'].selector, 'pointer');
  assert.equal(NIL_FIELDS['core.v1.PodList'], undefined, 'list items are always written');
});

test('fill: missing -> null at every depth, [] and values kept, custom resources untouched', () => {
  const slice: any = { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', addressType: 'IPv4', ports: [] };
  fillNilFields(slice);
  assert.equal(
    JSON.stringify(slice),
    '{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","addressType":"IPv4","ports":[],"endpoints":null}',
  );
  const deploy: any = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    spec: {
      selector: { matchLabels: { a: 'b' } },
      template: {
        spec: {
          containers: [{ name: 'c', readinessProbe: { grpc: { port: 9 } } }],
          volumes: [{ name: 'v', projected: {} }],
          affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: {} } },
        },
      },
    },
  };
  fillNilFields(deploy);
  const pod = deploy.spec.template.spec;
  assert.equal(pod.containers[0].readinessProbe.grpc.service, null);
  assert.equal(pod.volumes[0].projected.sources, null);
  assert.equal(pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, null);
  assert.deepEqual(deploy.spec.selector, { matchLabels: { a: 'b' } });
  const hpa: any = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', status: {} };
  fillNilFields(hpa);
  assert.deepEqual(hpa.status, { currentMetrics: null });
  const cr: any = { apiVersion: 'example.com/v1', kind: 'ClusterRole' };
  fillNilFields(cr);
  assert.deepEqual(cr, { apiVersion: 'example.com/v1', kind: 'ClusterRole' });
  const metrics: any = { containers: [{ name: 'c' }] };
  fillNilFieldsOf(metrics, 'metrics.v1beta1.PodMetrics');
  assert.deepEqual(metrics.containers, [{ name: 'c', usage: null }]);
});

test('protobuf decode: an empty or missing repeated field is null where Go writes null, absent where omitempty', () => {
  const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'r' }, rules: [] };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(role)), { ...role, rules: null });
  const binding = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: 'b' },
    subjects: [],
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'r' },
  };
  const back = decodeEnvelope(encodeEnvelope(binding));
  assert.equal('subjects' in back, false, 'subjects is omitempty');
});

// ---- through the API server -------------------------------------------------------------------

let t: TestApi;
let raw: RawClient;

before(async () => {
  t = await startTestApi();
  raw = rawClient(t.kubeconfig);
});

after(async () => {
  raw?.agent.destroy();
  await t?.stop();
});

const CR = '/apis/rbac.authorization.k8s.io/v1/clusterroles';
const ES = '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices';
const PROTOBUF = 'application/vnd.kubernetes.protobuf';

test('API: an aggregated ClusterRole answers rules: null (JSON and protobuf bodies); [] stays []', async () => {
  const agg = {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: 'nil-agg' },
    aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'nil-test': 'true' } }] },
  };
  const created = await raw.json('POST', CR, agg);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.rules, null);
  assert.ok(Object.hasOwn(created.body, 'rules'));
  // The field is no one's: kube-apiserver's empty ClusterRole has rules: null as well.
  assert.equal(JSON.stringify(created.body.metadata.managedFields[0].fieldsV1).includes('f:rules'), false);
  const got = await raw.json('GET', `${CR}/nil-agg`);
  assert.equal(JSON.stringify(got.body).includes('"rules":null'), true);

  const empty = await raw.json('POST', CR, { ...agg, metadata: { name: 'nil-empty' }, rules: [] });
  assert.deepEqual(empty.body.rules, [], 'JSON [] decodes to an empty, non-nil slice');

  // Protobuf: [] cannot be told from missing on the wire, so it is null.
  const pb = await raw.bytes('POST', CR, encodeEnvelope({ ...agg, metadata: { name: 'nil-pb' }, rules: [] }), {
    'Content-Type': PROTOBUF,
    Accept: 'application/json',
  });
  assert.equal(pb.status, 201, pb.body.toString());
  assert.equal(JSON.parse(pb.body.toString()).rules, null);
  // A protobuf answer has no rules field, and decodes to null again.
  const pbGet = await raw.bytes('GET', `${CR}/nil-pb`, undefined, { Accept: PROTOBUF });
  assert.equal(decodeEnvelope(pbGet.body).rules, null);
});

test('API: an EndpointSlice without endpoints or ports; patches and apply on it', async () => {
  const body = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'nil-es', labels: { 'kubernetes.io/service-name': 'x' } },
    addressType: 'IPv4',
  };
  const created = await raw.json('POST', ES, body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.deepEqual([created.body.endpoints, created.body.ports], [null, null]);

  // Strategic merge patch onto null lists: the list is set.
  const smp = await raw.json(
    'PATCH',
    `${ES}/nil-es`,
    { endpoints: [{ addresses: ['10.0.0.1'] }] },
    { 'Content-Type': 'application/strategic-merge-patch+json' },
  );
  assert.equal(smp.status, 200, JSON.stringify(smp.body));
  assert.deepEqual(smp.body.endpoints, [{ addresses: ['10.0.0.1'] }]);
  assert.equal(smp.body.ports, null);
  // A merge patch's null deletes: the field is nil again, so null, not absent.
  const merge = await raw.json(
    'PATCH',
    `${ES}/nil-es`,
    { endpoints: null },
    {
      'Content-Type': 'application/merge-patch+json',
    },
  );
  assert.equal(merge.status, 200, JSON.stringify(merge.body));
  assert.equal(merge.body.endpoints, null);
  assert.ok(Object.hasOwn(merge.body, 'endpoints'));
  // A JSON patch sees the stored null.
  const jp = await raw.json('PATCH', `${ES}/nil-es`, [{ op: 'test', path: '/ports', value: null }], {
    'Content-Type': 'application/json-patch+json',
  });
  assert.equal(jp.status, 200, JSON.stringify(jp.body));

  // Server-side apply: an owner of ports, then it gives them up; the field goes back to null.
  const apply = (cfg: object) =>
    raw.json('PATCH', `${ES}/nil-es?fieldManager=nil-applier`, cfg, {
      'Content-Type': 'application/apply-patch+yaml',
    });
  const applied = await apply({ ...body, ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  assert.deepEqual(applied.body.ports, [{ name: 'http', port: 80, protocol: 'TCP' }]);
  assert.equal(applied.body.endpoints, null);
  const mine = applied.body.metadata.managedFields.find((m: any) => m.manager === 'nil-applier');
  assert.ok(mine.fieldsV1['f:ports'], JSON.stringify(mine));
  assert.equal(mine.fieldsV1['f:endpoints'], undefined);
  const released = await apply(body);
  assert.equal(released.status, 200, JSON.stringify(released.body));
  assert.equal(released.body.ports, null);
  // An update with the object as read (nulls and all) changes nothing.
  const put = await raw.json('PUT', `${ES}/nil-es`, released.body);
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal(put.body.metadata.resourceVersion, released.body.metadata.resourceVersion);
});
