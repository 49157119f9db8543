// The operator's test: a real API server and controller manager in this process (k8ts), the
// operator under test talking to it with the official client, nothing to download or run beside.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster } from 'k8ts';
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, Watch } from '@kubernetes/client-node';
import { GROUP, VERSION, PLURAL, greetingCRD, runOperator } from './operator.js';

let cluster;
let kc;
let stopOperator;

/** Polls `fn` until it returns something truthy (or fails after `ms`). */
async function eventually(fn, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      if (Date.now() > end) throw err;
    }
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Watches a CRD until it is Established: its resource is served from then on. */
async function established(name, ms = 5000) {
  let req;
  try {
    return await new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error(`CustomResourceDefinition ${name} not Established`)), ms).unref();
      new Watch(kc)
        .watch(
          '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
          { fieldSelector: `metadata.name=${name}` },
          (_type, crd) =>
            crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') && resolve(crd),
          (err) => err && err.name !== 'AbortError' && reject(err),
        )
        .then((r) => (req = r), reject);
    });
  } finally {
    req?.abort();
  }
}

before(async () => {
  cluster = await startCluster();
  kc = await cluster.kubeConfig();
  await KubernetesObjectApi.makeApiClient(kc).create(greetingCRD);
  await established(greetingCRD.metadata.name);
  stopOperator = await runOperator(kc);
});

after(async () => {
  stopOperator?.();
  await cluster?.stop();
});

test('a Greeting gets its ConfigMap and status', async () => {
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: 'default',
    plural: PLURAL,
    body: {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: 'Greeting',
      metadata: { name: 'hello' },
      spec: { message: 'hi there' },
    },
  });
  const cm = await eventually(() =>
    kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'hello-greeting', namespace: 'default' }),
  );
  assert.equal(cm.data.message, 'hi there');
  const g = await eventually(async () => {
    const o = await custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: 'default',
      plural: PLURAL,
      name: 'hello',
    });
    return o.status?.configMap && o;
  });
  assert.equal(g.status.configMap, 'hello-greeting');
});

test('deleting the Greeting deletes its ConfigMap (garbage collection)', async () => {
  const custom = kc.makeApiClient(CustomObjectsApi);
  await custom.deleteNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace: 'default',
    plural: PLURAL,
    name: 'hello',
  });
  await eventually(async () => {
    try {
      await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'hello-greeting', namespace: 'default' });
      return false;
    } catch (err) {
      return err.code === 404;
    }
  });
});
