// A small operator: every Greeting (example.com/v1) gets a ConfigMap holding its message, owned
// by the Greeting (so deleting the Greeting deletes the ConfigMap through garbage collection),
// and the Greeting's status says which ConfigMap it produced.
import { CustomObjectsApi, CoreV1Api, Watch, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

export const GROUP = 'example.com';
export const VERSION = 'v1';
export const PLURAL = 'greetings';

export const greetingCRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${PLURAL}.${GROUP}` },
  spec: {
    group: GROUP,
    scope: 'Namespaced',
    names: { plural: PLURAL, singular: 'greeting', kind: 'Greeting' },
    versions: [
      {
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', required: ['message'], properties: { message: { type: 'string' } } },
              status: { type: 'object', properties: { configMap: { type: 'string' } } },
            },
          },
        },
      },
    ],
  },
};

/** Makes the world match one Greeting: its ConfigMap exists with its message, and status says so. */
async function reconcile(kc, greeting) {
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const { name, namespace, uid } = greeting.metadata;
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: `${name}-greeting`,
      namespace,
      ownerReferences: [
        { apiVersion: `${GROUP}/${VERSION}`, kind: 'Greeting', name, uid, controller: true, blockOwnerDeletion: true },
      ],
    },
    data: { message: greeting.spec.message },
  };
  // Server-side apply: create or update in one idempotent call.
  await core.patchNamespacedConfigMap(
    { name: configMap.metadata.name, namespace, body: configMap, fieldManager: 'greeting-operator', force: true },
    setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
  );
  if (greeting.status?.configMap !== configMap.metadata.name) {
    await custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name,
        body: { status: { configMap: configMap.metadata.name } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }
}

/** Watches Greetings in every namespace and reconciles each change; returns a stop function. */
export async function runOperator(kc, { onError = (err) => console.error(err) } = {}) {
  const watch = new Watch(kc);
  const req = await watch.watch(
    `/apis/${GROUP}/${VERSION}/${PLURAL}`,
    {},
    (type, obj) => {
      if (type === 'ADDED' || type === 'MODIFIED') reconcile(kc, obj).catch(onError);
    },
    // Called when the watch ends: with nothing after stop(), with an error if the server went away.
    (err) => err && err.name !== 'AbortError' && onError(err),
  );
  return () => req.abort();
}
