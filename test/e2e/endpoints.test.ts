// Endpoints and EndpointSlices with the real kubectl: a Service selecting pods whose status the
// test patches (podIP, Ready): addresses follow readiness, named target ports resolve per pod,
// publishNotReadyAddresses, headless services with hostnames, services without a selector left
// alone; every namespace gets the `default` ServiceAccount and the kube-root-ca.crt ConfigMap.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startCluster, type Cluster, until as poll } from './harness.js';
import { sleep } from '../support/until.js';

let cluster: Cluster;

before(async () => {
  cluster = await startCluster();
});
after(async () => {
  await cluster?.cleanup();
});

const until = <T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> =>
  poll(what, fn, timeoutMs, 150);

const getJSON = async (args: string[]) => JSON.parse(await cluster.k([...args, '-o', 'json']));

function podYaml(ns: string, name: string, port: number, extra = ''): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}, labels: {app: web}}
spec:${extra}
  containers: [{name: c, image: nginx, ports: [{name: http, containerPort: ${port}}]}]
---
`;
}

async function setStatus(ns: string, name: string, ip: string, ready: boolean): Promise<void> {
  const status = {
    phase: 'Running',
    podIP: ip,
    podIPs: [{ ip }],
    conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
  };
  await cluster.k([
    'patch',
    'pod',
    name,
    '-n',
    ns,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
}

const ips = (list: any[] | undefined) => (list ?? []).map((a) => a.ip).sort();

test('endpoints and endpointslices follow pod readiness; named ports resolve per pod', async () => {
  const ns = 'ep';
  await cluster.k(['create', 'namespace', ns]);
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: Service
metadata: {name: web, namespace: ${ns}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
${podYaml(ns, 'web-a', 8080)}${podYaml(ns, 'web-b', 8081)}`,
  );
  await setStatus(ns, 'web-a', '10.42.0.11', true);
  await setStatus(ns, 'web-b', '10.42.0.12', false);

  const ep = await until('endpoints with both pods', async () => {
    const e = await getJSON(['get', 'endpoints', 'web', '-n', ns]);
    const all = (e.subsets ?? []).flatMap((s: any) => [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])]);
    return all.length === 2 && e;
  });
  const ready = ep.subsets.find((s: any) => s.addresses);
  const notReady = ep.subsets.find((s: any) => s.notReadyAddresses);
  assert.deepEqual(ips(ready.addresses), ['10.42.0.11']);
  assert.deepEqual(ready.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
  assert.equal(ready.addresses[0].targetRef.kind, 'Pod');
  assert.equal(ready.addresses[0].targetRef.name, 'web-a');
  assert.deepEqual(ips(notReady.notReadyAddresses), ['10.42.0.12']);
  assert.deepEqual(notReady.ports, [{ name: 'http', port: 8081, protocol: 'TCP' }]);
  assert.ok(ep.metadata.annotations['endpoints.kubernetes.io/last-change-trigger-time']);

  // kubectl get endpoints lists the ready address only.
  const table = await cluster.k(['get', 'endpoints', 'web', '-n', ns]);
  assert.match(table, /10\.42\.0\.11:8080/);
  assert.doesNotMatch(table, /10\.42\.0\.12/);

  const slices = await until('endpointslices', async () => {
    const l = await getJSON(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=web']);
    return l.items.flatMap((s: any) => s.endpoints ?? []).length === 2 && l.items;
  });
  for (const s of slices) {
    assert.equal(s.metadata.labels['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
    assert.equal(s.addressType, 'IPv4');
    assert.equal(s.metadata.ownerReferences[0].kind, 'Service');
    assert.equal(s.metadata.ownerReferences[0].controller, true);
  }
  const byPod = Object.fromEntries(
    slices.flatMap((s: any) => s.endpoints.map((e: any) => [e.targetRef.name, { e, ports: s.ports }])),
  );
  assert.deepEqual(byPod['web-a'].e.conditions, { ready: true, serving: true, terminating: false });
  assert.deepEqual(byPod['web-b'].e.conditions, { ready: false, serving: false, terminating: false });
  assert.equal(byPod['web-a'].ports[0].port, 8080);
  assert.equal(byPod['web-b'].ports[0].port, 8081);

  // Readiness flips: web-b becomes ready, web-a not.
  await setStatus(ns, 'web-b', '10.42.0.12', true);
  await setStatus(ns, 'web-a', '10.42.0.11', false);
  await until('readiness followed', async () => {
    const e = await getJSON(['get', 'endpoints', 'web', '-n', ns]);
    const r = (e.subsets ?? []).flatMap((s: any) => s.addresses ?? []);
    const n = (e.subsets ?? []).flatMap((s: any) => s.notReadyAddresses ?? []);
    return ips(r).join() === '10.42.0.12' && ips(n).join() === '10.42.0.11';
  });
  await until('slice conditions followed', async () => {
    const l = await getJSON(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=web']);
    const eps = l.items.flatMap((s: any) => s.endpoints ?? []);
    const a = eps.find((e: any) => e.targetRef.name === 'web-a');
    const b = eps.find((e: any) => e.targetRef.name === 'web-b');
    return a?.conditions.ready === false && b?.conditions.ready === true;
  });
  const sliceTable = await cluster.k(['get', 'endpointslices', '-n', ns]);
  assert.match(sliceTable, /10\.42\.0\.1[12]/);

  // A deleted pod leaves both.
  await cluster.k(['delete', 'pod', 'web-a', '-n', ns, '--grace-period=0', '--force']);
  await until('pod removed from endpoints', async () => {
    const e = await getJSON(['get', 'endpoints', 'web', '-n', ns]);
    const all = (e.subsets ?? []).flatMap((s: any) => [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])]);
    return all.length === 1 && all[0].ip === '10.42.0.12';
  });
  await until('pod removed from slices', async () => {
    const l = await getJSON(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=web']);
    return l.items.flatMap((s: any) => s.endpoints ?? []).length === 1;
  });

  // Deleting the service removes its Endpoints, and its slices through the garbage collector.
  await cluster.k(['delete', 'service', 'web', '-n', ns]);
  await until('endpoints gone', async () => (await cluster.kubectl(['get', 'endpoints', 'web', '-n', ns])).code !== 0);
  await until(
    'slices gone',
    async () =>
      (await getJSON(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=web'])).items.length === 0,
  );
});

test('publishNotReadyAddresses, headless hostnames, services without selector', async () => {
  const ns = 'ep2';
  await cluster.k(['create', 'namespace', ns]);
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: v1
kind: Service
metadata: {name: db, namespace: ${ns}}
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: manual, namespace: ${ns}}
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: manual, namespace: ${ns}}
subsets: [{addresses: [{ip: 192.0.2.50}], ports: [{port: 80}]}]
---
${podYaml(ns, 'db-0', 5432, '\n  hostname: db-0\n  subdomain: db')}`,
  );
  await setStatus(ns, 'db-0', '10.42.0.21', false);
  const ep = await until('published not-ready address', async () => {
    const e = await getJSON(['get', 'endpoints', 'db', '-n', ns]);
    return e.subsets?.[0]?.addresses?.length === 1 && e;
  });
  assert.equal(ep.subsets[0].addresses[0].ip, '10.42.0.21');
  assert.equal(ep.subsets[0].addresses[0].hostname, 'db-0');
  assert.equal(ep.subsets[0].notReadyAddresses, undefined);
  assert.equal(ep.metadata.labels['service.kubernetes.io/headless'], '');
  const slice = await until('slice', async () => {
    const l = await getJSON(['get', 'endpointslices', '-n', ns, '-l', 'kubernetes.io/service-name=db']);
    return l.items[0]?.endpoints?.length === 1 && l.items[0];
  });
  assert.equal(slice.endpoints[0].hostname, 'db-0');
  assert.deepEqual(slice.endpoints[0].conditions, { ready: true, serving: false, terminating: false });

  // The user's Endpoints of a selector-less service stay as written.
  await sleep(500);
  const manual = await getJSON(['get', 'endpoints', 'manual', '-n', ns]);
  assert.deepEqual(manual.subsets, [{ addresses: [{ ip: '192.0.2.50' }], ports: [{ port: 80, protocol: 'TCP' }] }]);
  const manualSlices = await getJSON([
    'get',
    'endpointslices',
    '-n',
    ns,
    '-l',
    'endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io,kubernetes.io/service-name=manual',
  ]);
  assert.equal(manualSlices.items.length, 0);
});

test('every namespace gets the default ServiceAccount and kube-root-ca.crt (recreated when deleted)', async () => {
  await cluster.k(['create', 'namespace', 'sa-test']);
  await until(
    'default service account',
    async () => (await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', 'sa-test'])).code === 0,
  );
  const cm = await until('root CA configmap', async () => {
    const r = await cluster.kubectl(['get', 'configmap', 'kube-root-ca.crt', '-n', 'sa-test', '-o', 'json']);
    return r.code === 0 && JSON.parse(r.stdout);
  });
  const ca = readFileSync(join(cluster.dataDir, 'server', 'tls', 'ca.crt'), 'utf8');
  assert.equal(cm.data['ca.crt'].trim(), ca.trim());
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    await until(
      `${ns} has both`,
      async () =>
        (await cluster.kubectl(['get', 'serviceaccount/default', 'configmap/kube-root-ca.crt', '-n', ns])).code === 0,
    );
  }
  await cluster.k(['delete', 'serviceaccount', 'default', '-n', 'sa-test']);
  await cluster.k(['delete', 'configmap', 'kube-root-ca.crt', '-n', 'sa-test']);
  await until(
    'service account recreated',
    async () => (await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', 'sa-test'])).code === 0,
  );
  await until(
    'configmap recreated',
    async () => (await cluster.kubectl(['get', 'configmap', 'kube-root-ca.crt', '-n', 'sa-test'])).code === 0,
  );
  // A changed CA bundle is put back.
  await cluster.k([
    'patch',
    'configmap',
    'kube-root-ca.crt',
    '-n',
    'sa-test',
    '--type=merge',
    '-p',
    '{"data":{"ca.crt":"bogus"}}',
  ]);
  await until(
    'configmap restored',
    async () =>
      (
        await cluster.k(['get', 'configmap', 'kube-root-ca.crt', '-n', 'sa-test', '-o', 'jsonpath={.data.ca\\.crt}'])
      ).trim() === ca.trim(),
  );
});
