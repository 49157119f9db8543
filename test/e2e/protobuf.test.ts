// application/vnd.kubernetes.protobuf on the wire: kubectl 1.32+ sends built-in objects as
// protobuf (and asks for protobuf back); every kubectl from 1.27 to 1.33 must work end to end.
// Raw requests check the content types the server answers with.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { existsSync } from 'node:fs';
import { startCluster, until, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';
import { streamKubectl } from './streams.js';
import { decodeEnvelope, decodeMessage, encodeEnvelope } from '../../src/machinery/protobuf/index.js';

const BIN_DIR = '/usr/lib/google-cloud-sdk/bin';
const VERSIONS = ['1.27', '1.28', '1.29', '1.30', '1.31', '1.32', '1.33'];
const PROTOBUF = 'application/vnd.kubernetes.protobuf';

let cluster: Cluster;
let raw: RawClient;

before(async () => {
  cluster = await startCluster();
  raw = rawClient(cluster.kubeconfig);
});

after(async () => {
  raw?.agent.destroy();
  await cluster?.cleanup();
});

/** A request whose response body is kept as bytes. */
const bytes = (method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}) =>
  raw.bytes(method, path, body, headers);

for (const version of VERSIONS) {
  const bin = `${BIN_DIR}/kubectl.${version}`;
  test(
    `kubectl ${version}: create, get, list, watch, apply, patch, scale, delete`,
    { skip: !existsSync(bin) && `no ${bin}` },
    async () => {
      const ns = `pb-${version.replace('.', '-')}`;
      const k = async (args: string[], input?: string) => {
        const r = await cluster.kubectl(args, { bin, input });
        assert.equal(r.code, 0, `kubectl ${version} ${args.join(' ')}:\n${r.stderr}${r.stdout}`);
        return r.stdout;
      };
      await k(['create', 'namespace', ns]);
      // Errors come back as a Status (in protobuf for kubectl 1.32+) that kubectl reads.
      const again = await cluster.kubectl(['create', 'namespace', ns], { bin });
      assert.notEqual(again.code, 0);
      assert.match(again.stderr, new RegExp(`AlreadyExists.*namespaces "${ns}" already exists`));
      const invalid = await cluster.kubectl(['create', 'configmap', 'Bad_Name', '-n', ns], { bin });
      assert.match(invalid.stderr, /is invalid: metadata.name: Invalid value: "Bad_Name"/);
      await k(['create', 'deployment', 'web', '--image=nginx', '--replicas=2', '-n', ns]);
      await k(['create', 'configmap', 'cfg', '--from-literal=greeting=hello', '-n', ns]);
      await k(['create', 'secret', 'generic', 'sec', '--from-literal=password=s3cr3t', '-n', ns]);
      await k(['create', 'service', 'clusterip', 'svc', '--tcp=80:8080', '-n', ns]);
      await k(['create', 'job', 'once', '--image=busybox', '-n', ns, '--', 'true']);
      await k(['create', 'cronjob', 'tick', '--image=busybox', '--schedule=*/5 * * * *', '-n', ns, '--', 'true']);
      await k(['create', 'role', 'reader', '--verb=get,list', '--resource=pods', '-n', ns]);
      await k(['create', 'quota', 'q', '--hard=pods=10,configmaps=20', '-n', ns]);

      const dep = await k(['get', 'deployment', 'web', '-n', ns, '-o', 'yaml']);
      assert.match(dep, /replicas: 2/);
      assert.match(dep, /image: nginx/);
      assert.match(
        await k(['get', 'secret', 'sec', '-n', ns, '-o', 'jsonpath={.data.password}']),
        new RegExp(Buffer.from('s3cr3t').toString('base64')),
      );
      assert.match(await k(['get', 'svc', 'svc', '-n', ns, '-o', 'jsonpath={.spec.ports[0].targetPort}']), /^8080$/);
      assert.match(await k(['get', 'cronjob', 'tick', '-n', ns, '-o', 'jsonpath={.spec.schedule}']), /\*\/5/);
      assert.match(await k(['get', 'quota', 'q', '-n', ns, '-o', 'jsonpath={.spec.hard.pods}']), /^10$/);
      const listed = await k([
        'get',
        'configmaps,secrets,services,jobs,cronjobs,roles,resourcequotas',
        '-n',
        ns,
        '-o',
        'name',
      ]);
      for (const name of [
        'configmap/cfg',
        'secret/sec',
        'service/svc',
        'job.batch/once',
        'cronjob.batch/tick',
        'role.rbac.authorization.k8s.io/reader',
        'resourcequota/q',
      ]) {
        assert.ok(listed.includes(name), `${name} in\n${listed}`);
      }

      const watch = streamKubectl(cluster, ['get', 'configmaps', '-n', ns, '-w', '-o', 'name'], { bin, maxMs: 20_000 });
      try {
        await watch.waitFor(/configmap\/cfg/);
        await k(['create', 'configmap', 'late', '-n', ns]);
        await watch.waitFor(/configmap\/late/);
      } finally {
        await watch.stop();
      }

      const manifest = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: ${ns}\ndata:\n  a: "1"\n`;
      await k(['apply', '-f', '-'], manifest);
      await k(['apply', '-f', '-'], manifest.replace('a: "1"', 'a: "2"'));
      assert.equal(await k(['get', 'cm', 'applied', '-n', ns, '-o', 'jsonpath={.data.a}']), '2');
      await k(['patch', 'configmap', 'cfg', '-n', ns, '-p', '{"data":{"greeting":"bye"}}']);
      assert.equal(await k(['get', 'cm', 'cfg', '-n', ns, '-o', 'jsonpath={.data.greeting}']), 'bye');
      await k(['scale', 'deployment', 'web', '-n', ns, '--replicas=0']);
      assert.equal(await k(['get', 'deploy', 'web', '-n', ns, '-o', 'jsonpath={.spec.replicas}']), '0');
      await k(['label', 'configmap', 'cfg', '-n', ns, 'tier=web']);
      await k(['delete', 'configmap', 'cfg', '-n', ns]);
      await k(['delete', 'namespace', ns, '--wait=false']);
    },
  );
}

test('raw protobuf: create, get, list, Status errors, watch frames', async () => {
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'raw-pb', namespace: 'default' },
    data: { k: 'v' },
    binaryData: { b: Buffer.from([0, 1, 2]).toString('base64') },
  };
  const created = await bytes('POST', '/api/v1/namespaces/default/configmaps', encodeEnvelope(cm), {
    'Content-Type': PROTOBUF,
    Accept: `${PROTOBUF}, application/json`,
  });
  assert.equal(created.status, 201, created.body.toString());
  assert.equal(created.type, PROTOBUF);
  const back = decodeEnvelope(created.body);
  assert.deepEqual(
    [back.kind, back.metadata.name, back.data, back.binaryData],
    ['ConfigMap', 'raw-pb', { k: 'v' }, cm.binaryData],
  );
  assert.ok(back.metadata.uid && back.metadata.resourceVersion && back.metadata.creationTimestamp);

  // JSON clients see the same object.
  const asJSON = await raw.json('GET', '/api/v1/namespaces/default/configmaps/raw-pb');
  assert.deepEqual(asJSON.body.binaryData, cm.binaryData);

  const got = await bytes('GET', '/api/v1/namespaces/default/configmaps/raw-pb', undefined, { Accept: PROTOBUF });
  assert.equal(got.type, PROTOBUF);
  assert.equal(decodeEnvelope(got.body).metadata.resourceVersion, back.metadata.resourceVersion);
  // q-values: JSON preferred.
  const preferJSON = await bytes('GET', '/api/v1/namespaces/default/configmaps/raw-pb', undefined, {
    Accept: `${PROTOBUF};q=0.5, application/json`,
  });
  assert.equal(preferJSON.type, 'application/json');

  const list = await bytes('GET', '/api/v1/namespaces/default/configmaps', undefined, { Accept: PROTOBUF });
  assert.equal(list.type, PROTOBUF);
  const items = decodeEnvelope(list.body);
  assert.equal(items.kind, 'ConfigMapList');
  assert.ok(items.metadata.resourceVersion);
  assert.ok(items.items.some((i: any) => i.metadata.name === 'raw-pb'));

  const partial = await bytes('GET', '/api/v1/namespaces/default/configmaps', undefined, {
    Accept: `${PROTOBUF};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json`,
  });
  assert.equal(partial.type, PROTOBUF);
  const pl = decodeEnvelope(partial.body);
  assert.equal(pl.kind, 'PartialObjectMetadataList');
  assert.ok(pl.items.some((i: any) => i.metadata.name === 'raw-pb' && !('data' in i)));

  // Tables are JSON only: protobuf;as=Table is passed over for the next acceptable range.
  const table = await bytes('GET', '/api/v1/namespaces/default/configmaps', undefined, {
    Accept: `${PROTOBUF};as=Table;g=meta.k8s.io;v=v1,application/json`,
  });
  assert.equal(table.type, 'application/json');

  const missing = await bytes('GET', '/api/v1/namespaces/default/configmaps/nope', undefined, {
    Accept: `${PROTOBUF}, application/json`,
  });
  assert.equal(missing.status, 404);
  assert.equal(missing.type, PROTOBUF);
  const status = decodeEnvelope(missing.body);
  assert.deepEqual([status.kind, status.reason, status.code], ['Status', 'NotFound', 404]);

  // Hostile bodies are a 400, and the server goes on.
  const garbage = await bytes(
    'POST',
    '/api/v1/namespaces/default/configmaps',
    Buffer.concat([Buffer.from('k8s\0'), Buffer.from('12ffffffff0f', 'hex')]),
    { 'Content-Type': PROTOBUF },
  );
  assert.equal(garbage.status, 400);
  // Patch bodies in protobuf are not a patch type (upstream: 415).
  const patch = await bytes('PATCH', '/api/v1/namespaces/default/configmaps/raw-pb', encodeEnvelope(cm), {
    'Content-Type': PROTOBUF,
  });
  assert.equal(patch.status, 415);

  // Update in protobuf.
  const update = { ...back, data: { k: 'v2' } };
  const updated = await bytes('PUT', '/api/v1/namespaces/default/configmaps/raw-pb', encodeEnvelope(update), {
    'Content-Type': PROTOBUF,
    Accept: PROTOBUF,
  });
  assert.equal(updated.status, 200, updated.body.toString());
  assert.deepEqual(decodeEnvelope(updated.body).data, { k: 'v2' });

  // Watch: length-prefixed WatchEvent frames (the initial ADDED, then a live MODIFIED).
  const later = setTimeout(() => {
    void bytes(
      'PUT',
      '/api/v1/namespaces/default/configmaps/raw-pb',
      encodeEnvelope({ ...decodeEnvelope(updated.body), data: { k: 'v3' } }),
      { 'Content-Type': PROTOBUF },
    );
  }, 500);
  const frames = await new Promise<any[]>((resolve, reject) => {
    const req = https.request(
      new URL(
        `/api/v1/namespaces/default/configmaps?watch=1&fieldSelector=metadata.name%3Draw-pb&timeoutSeconds=2`,
        raw.base,
      ),
      { agent: raw.agent, headers: { Accept: PROTOBUF } },
      (res) => {
        assert.equal(res.headers['content-type'], `${PROTOBUF};stream=watch`);
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const all = Buffer.concat(chunks);
          const events: any[] = [];
          for (let pos = 0; pos < all.length;) {
            const len = all.readUInt32BE(pos);
            events.push(decodeMessage('meta.v1.WatchEvent', all.subarray(pos + 4, pos + 4 + len)));
            pos += 4 + len;
          }
          resolve(events);
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
  clearTimeout(later);
  assert.deepEqual(
    frames.map((f) => f.type),
    ['ADDED', 'MODIFIED'],
  );
  assert.deepEqual(frames[0].object.data, { k: 'v2' });
  assert.deepEqual(frames[1].object.data, { k: 'v3' });

  // Strict field validation has nothing to report for protobuf (upstream: no strict decoding for
  // it), even for fields newer than this server's schema (CSINode.status).
  const csinode = {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'CSINode',
    metadata: { name: 'strict' },
    spec: { drivers: [] },
  };
  const strict = await bytes(
    'POST',
    '/apis/storage.k8s.io/v1/csinodes?fieldValidation=Strict&dryRun=All',
    encodeEnvelope(csinode),
    { 'Content-Type': PROTOBUF },
  );
  assert.equal(strict.status, 201, strict.body.toString());

  // Subresources: an Eviction in protobuf; the scale subresource answers in protobuf.
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'pb-pod', namespace: 'default' },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  };
  assert.equal(
    (await bytes('POST', '/api/v1/namespaces/default/pods', encodeEnvelope(pod), { 'Content-Type': PROTOBUF })).status,
    201,
  );
  const eviction = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'pb-pod', namespace: 'default' } };
  const evicted = await bytes('POST', '/api/v1/namespaces/default/pods/pb-pod/eviction', encodeEnvelope(eviction), {
    'Content-Type': PROTOBUF,
    Accept: `${PROTOBUF}, application/json`,
  });
  assert.equal(evicted.status, 201, evicted.body.toString());
  const dep = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'pb-dep', namespace: 'default' },
    spec: {
      replicas: 0,
      selector: { matchLabels: { a: 'b' } },
      template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
    },
  };
  const depCreated = decodeEnvelope(
    (
      await bytes('POST', '/apis/apps/v1/namespaces/default/deployments', encodeEnvelope(dep), {
        'Content-Type': PROTOBUF,
        Accept: PROTOBUF,
      })
    ).body,
  );
  assert.equal(depCreated.spec.replicas, 0, 'a present zero survives');
  const scale = await bytes('GET', '/apis/apps/v1/namespaces/default/deployments/pb-dep/scale', undefined, {
    Accept: PROTOBUF,
  });
  assert.equal(scale.type, PROTOBUF);
  // Scale's replicas is a Go value field with omitempty: 0 reads back absent, as upstream's JSON.
  assert.deepEqual([decodeEnvelope(scale.body).kind, decodeEnvelope(scale.body).spec], ['Scale', {}]);

  const del = await bytes('DELETE', '/api/v1/namespaces/default/configmaps/raw-pb', undefined, { Accept: PROTOBUF });
  assert.equal(del.type, PROTOBUF);
  const gone = decodeEnvelope(del.body);
  assert.deepEqual(
    [gone.kind, gone.status, gone.details.name, gone.details.kind],
    ['Status', 'Success', 'raw-pb', 'configmaps'],
  );
});

test('pods/binding, pods/eviction and serviceaccounts/token: protobuf bodies in, protobuf replies out', async () => {
  const ns = 'pb-subresources';
  assert.equal((await raw.json('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status, 201);
  const pod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns },
    spec: { schedulerName: 'nobody', containers: [{ name: 'c', image: 'busybox' }] },
  });
  for (const name of ['bound', 'evicted'])
    assert.equal((await raw.json('POST', `/api/v1/namespaces/${ns}/pods`, pod(name))).status, 201);
  const pbHeaders = { 'Content-Type': PROTOBUF, Accept: `${PROTOBUF}, application/json` };

  // Binding (core/v1), as the scheduler's protobuf client sends it.
  const binding = {
    apiVersion: 'v1',
    kind: 'Binding',
    metadata: { name: 'bound', namespace: ns },
    target: { apiVersion: 'v1', kind: 'Node', name: 'node-a' },
  };
  const bound = await bytes('POST', `/api/v1/namespaces/${ns}/pods/bound/binding`, encodeEnvelope(binding), pbHeaders);
  assert.equal(bound.status, 201, bound.body.toString());
  assert.equal(bound.type, PROTOBUF);
  const boundStatus = decodeEnvelope(bound.body);
  assert.deepEqual([boundStatus.kind, boundStatus.status, boundStatus.code], ['Status', 'Success', 201]);
  assert.equal((await raw.json('GET', `/api/v1/namespaces/${ns}/pods/bound`)).body.spec.nodeName, 'node-a');
  // A second binding is a Conflict, its Status in protobuf too.
  const again = await bytes('POST', `/api/v1/namespaces/${ns}/pods/bound/binding`, encodeEnvelope(binding), pbHeaders);
  assert.equal(again.status, 409);
  assert.equal(again.type, PROTOBUF);
  assert.equal(decodeEnvelope(again.body).reason, 'Conflict');

  // Eviction (policy/v1), as kubectl drain's protobuf client sends it.
  const eviction = {
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name: 'evicted', namespace: ns },
    deleteOptions: { gracePeriodSeconds: 0 },
  };
  const evicted = await bytes(
    'POST',
    `/api/v1/namespaces/${ns}/pods/evicted/eviction`,
    encodeEnvelope(eviction),
    pbHeaders,
  );
  assert.equal(evicted.status, 201, evicted.body.toString());
  assert.equal(evicted.type, PROTOBUF);
  assert.deepEqual([decodeEnvelope(evicted.body).kind, decodeEnvelope(evicted.body).status], ['Status', 'Success']);
  // JSON clients still get JSON; an Accept nothing satisfies is refused before anything happens.
  const jsonReply = await bytes(
    'POST',
    `/api/v1/namespaces/${ns}/pods/evicted/eviction`,
    JSON.stringify({ ...eviction }),
    { 'Content-Type': 'application/json', Accept: 'text/html' },
  );
  assert.equal(jsonReply.status, 406);

  // TokenRequest (authentication.k8s.io/v1).
  const tokenRequest = {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { audiences: ['pb-test'], expirationSeconds: 3600 },
  };
  const token = await bytes(
    'POST',
    `/api/v1/namespaces/${ns}/serviceaccounts/default/token`,
    encodeEnvelope(tokenRequest),
    pbHeaders,
  );
  assert.equal(token.status, 201, token.body.toString());
  assert.equal(token.type, PROTOBUF);
  const issued = decodeEnvelope(token.body);
  assert.equal(issued.kind, 'TokenRequest');
  assert.deepEqual(issued.spec.audiences, ['pb-test']);
  assert.match(issued.status.token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(issued.status.expirationTimestamp);
  // The same request in JSON with Accept: application/yaml answers YAML.
  const yaml = await bytes(
    'POST',
    `/api/v1/namespaces/${ns}/serviceaccounts/default/token`,
    JSON.stringify(tokenRequest),
    { 'Content-Type': 'application/json', Accept: 'application/yaml' },
  );
  assert.equal(yaml.status, 201, yaml.body.toString());
  assert.equal(yaml.type, 'application/yaml');
  assert.match(yaml.body.toString(), /^kind: TokenRequest$/m);
});

test('apiregistration.k8s.io APIService in protobuf (kube-aggregator serves it so): list, get, create, delete', async () => {
  const path = '/apis/apiregistration.k8s.io/v1/apiservices';
  const list = await bytes('GET', path, undefined, { Accept: PROTOBUF });
  assert.equal(list.status, 200, list.body.toString());
  assert.equal(list.type, PROTOBUF);
  const services = decodeEnvelope(list.body);
  assert.equal(services.kind, 'APIServiceList');
  const apps = services.items.find((i: any) => i.metadata.name === 'v1.apps');
  assert.deepEqual(apps?.spec, { group: 'apps', version: 'v1', groupPriorityMinimum: 17800, versionPriority: 15 });
  assert.equal(apps.status.conditions[0].type, 'Available');

  const core = await bytes('GET', `${path}/v1.`, undefined, { Accept: PROTOBUF });
  assert.equal(core.type, PROTOBUF);
  assert.deepEqual(decodeEnvelope(core.body).spec, { version: 'v1', groupPriorityMinimum: 18000, versionPriority: 1 });

  // A remote APIService sent as protobuf: the service reference's port defaulted, caBundle bytes kept.
  const remote = {
    apiVersion: 'apiregistration.k8s.io/v1',
    kind: 'APIService',
    metadata: { name: 'v1alpha1.pb.example.com' },
    spec: {
      group: 'pb.example.com',
      version: 'v1alpha1',
      service: { namespace: 'default', name: 'pb-ext' },
      caBundle: Buffer.from('not a real bundle').toString('base64'),
      groupPriorityMinimum: 1000,
      versionPriority: 15,
    },
  };
  const created = await bytes('POST', path, encodeEnvelope(remote), { 'Content-Type': PROTOBUF, Accept: PROTOBUF });
  assert.equal(created.status, 201, created.body.toString());
  const back = decodeEnvelope(created.body);
  assert.deepEqual(back.spec, { ...remote.spec, service: { ...remote.spec.service, port: 443 } });
  const del = await bytes('DELETE', `${path}/v1alpha1.pb.example.com`, undefined, { Accept: PROTOBUF });
  assert.equal(del.status, 200);
  assert.equal(del.type, PROTOBUF);
});

test("Go's nulls: kubectl 1.33 (protobuf) and 1.27 (JSON) see rules: null, endpoints: null as upstream shows them", async () => {
  for (const version of ['1.33', '1.27']) {
    const bin = `${BIN_DIR}/kubectl.${version}`;
    if (!existsSync(bin)) continue;
    const name = `nil-agg-${version.replace('.', '-')}`;
    const k = async (args: string[], input?: string) => {
      const r = await cluster.kubectl(args, { bin, input });
      assert.equal(r.code, 0, `kubectl ${version} ${args.join(' ')}:\n${r.stderr}${r.stdout}`);
      return r.stdout;
    };
    // An aggregated ClusterRole: no rules of its own; none match its selector, so none are added.
    await k(['create', 'clusterrole', name, '--aggregation-rule=nil-test=none']);
    const role = JSON.parse(await k(['get', 'clusterrole', name, '-o', 'json']));
    assert.ok(Object.hasOwn(role, 'rules') && role.rules === null, `${version}: ${JSON.stringify(role)}`);
    await k(['delete', 'clusterrole', name]);
  }
  // An EndpointSlice without endpoints or ports, created and read as protobuf by kubectl 1.33.
  const bin = `${BIN_DIR}/kubectl.1.33`;
  if (!existsSync(bin)) return;
  const slice = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: 'nil-es', namespace: 'default' },
    addressType: 'IPv4',
  };
  const created = await cluster.kubectl(['create', '-f', '-', '-o', 'json'], { bin, input: JSON.stringify(slice) });
  assert.equal(created.code, 0, created.stderr);
  const got = await cluster.kubectl(['get', 'endpointslice', 'nil-es', '-n', 'default', '-o', 'json'], { bin });
  const es = JSON.parse(got.stdout);
  assert.deepEqual([es.endpoints, es.ports], [null, null]);
  assert.ok(Object.hasOwn(es, 'endpoints') && Object.hasOwn(es, 'ports'));
  await cluster.kubectl(['delete', 'endpointslice', 'nil-es', '-n', 'default'], { bin });
});

test('custom resources: 415 for protobuf bodies, 406 for protobuf-only Accept, metadata in protobuf allowed', async () => {
  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'gadgets.pb.example.com' },
    spec: {
      group: 'pb.example.com',
      scope: 'Namespaced',
      names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget', listKind: 'GadgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
  // The CRD itself is a built-in: created in protobuf.
  const created = await bytes('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', encodeEnvelope(crd), {
    'Content-Type': PROTOBUF,
    Accept: PROTOBUF,
  });
  assert.equal(created.status, 201, created.body.toString());
  assert.equal(
    decodeEnvelope(created.body).spec.versions[0].schema.openAPIV3Schema['x-kubernetes-preserve-unknown-fields'],
    true,
  );
  const path = '/apis/pb.example.com/v1/namespaces/default/gadgets';
  await until('gadgets served', async () => (await raw.json('GET', path)).status === 200);
  const post = await bytes(
    'POST',
    path,
    encodeEnvelope({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'g' } }),
    { 'Content-Type': PROTOBUF },
  );
  assert.equal(post.status, 415);
  assert.match(post.body.toString(), /the body of the request was in an unknown format/);
  assert.equal(
    (await raw.json('POST', path, { apiVersion: 'pb.example.com/v1', kind: 'Gadget', metadata: { name: 'g' } })).status,
    201,
  );
  const onlyProto = await bytes('GET', path, undefined, { Accept: PROTOBUF });
  assert.equal(onlyProto.status, 406);
  const fallback = await bytes('GET', path, undefined, { Accept: `${PROTOBUF}, application/json` });
  assert.equal(fallback.type, 'application/json');
  const meta = await bytes('GET', path, undefined, {
    Accept: `${PROTOBUF};as=PartialObjectMetadataList;g=meta.k8s.io;v=v1`,
  });
  assert.equal(meta.type, PROTOBUF);
  assert.deepEqual(
    decodeEnvelope(meta.body).items.map((i: any) => i.metadata.name),
    ['g'],
  );
});
