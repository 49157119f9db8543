import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  definitionForGVK,
  getDefinition,
  resolveRef,
  schemaAtPath,
  type Schema,
} from '../../src/machinery/openapi/definitions.js';
import {
  OpenAPIDocumentCache,
  buildV2,
  buildV3GroupVersion,
  buildV3Index,
  type OpenAPIResource,
} from '../../src/machinery/openapi/documents.js';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const RESOURCES: OpenAPIResource[] = [
  {
    group: '',
    version: 'v1',
    kind: 'Pod',
    plural: 'pods',
    namespaced: true,
    verbs: VERBS,
    subresources: ['status', 'log', 'exec'],
    definition: 'io.k8s.api.core.v1.Pod',
    strategicMerge: true,
  },
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    namespaced: false,
    verbs: VERBS,
    subresources: ['status'],
    definition: 'io.k8s.api.core.v1.Namespace',
    strategicMerge: true,
  },
  {
    group: 'apps',
    version: 'v1',
    kind: 'Deployment',
    plural: 'deployments',
    namespaced: true,
    verbs: VERBS,
    subresources: ['status', 'scale'],
    definition: 'io.k8s.api.apps.v1.Deployment',
    strategicMerge: true,
  },
  {
    group: 'stable.example.com',
    version: 'v1',
    kind: 'CronTab',
    plural: 'crontabs',
    namespaced: true,
    verbs: VERBS,
    subresources: [],
    definition: 'com.example.stable.v1.CronTab',
    strategicMerge: false,
  },
];
const CRD_DEFS: Record<string, Schema> = {
  'com.example.stable.v1.CronTab': {
    type: 'object',
    properties: {
      metadata: { $ref: '#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' },
      spec: { type: 'object', properties: { cronSpec: { type: 'string' } } },
    },
    'x-kubernetes-group-version-kind': [{ group: 'stable.example.com', version: 'v1', kind: 'CronTab' }],
  },
};

// ------------------------------------------------------------------------------ generator output

test('Pod containers carry merge key name and strategy merge', () => {
  const containers = schemaAtPath('io.k8s.api.core.v1.Pod', ['spec', 'containers'])!;
  assert.equal(containers.type, 'array');
  assert.equal(containers['x-kubernetes-patch-merge-key'], 'name');
  assert.equal(containers['x-kubernetes-patch-strategy'], 'merge');
  assert.equal(containers['x-kubernetes-list-type'], 'map');
  assert.deepEqual(containers['x-kubernetes-list-map-keys'], ['name']);
  const volumes = schemaAtPath('io.k8s.api.core.v1.PodSpec', ['volumes'])!;
  assert.equal(volumes['x-kubernetes-patch-strategy'], 'merge,retainKeys');
  const tolerations = schemaAtPath('io.k8s.api.core.v1.PodSpec', ['tolerations'])!;
  assert.equal(tolerations['x-kubernetes-patch-strategy'], undefined);
  const env = schemaAtPath('io.k8s.api.core.v1.Pod', ['spec', 'containers', 0, 'env'])!;
  assert.equal(env['x-kubernetes-patch-merge-key'], 'name');
  const ports = schemaAtPath('io.k8s.api.core.v1.Service', ['spec', 'ports'])!;
  assert.equal(ports['x-kubernetes-patch-merge-key'], 'port');
  const finalizers = schemaAtPath('io.k8s.api.core.v1.Pod', ['metadata', 'finalizers'])!;
  assert.equal(finalizers['x-kubernetes-patch-strategy'], 'merge');
  assert.equal(
    schemaAtPath('io.k8s.api.apps.v1.Deployment', ['spec', 'strategy'])!['x-kubernetes-patch-strategy'],
    'retainKeys',
  );
  assert.equal(
    schemaAtPath('io.k8s.api.apps.v1.Deployment', ['status', 'conditions'])!['x-kubernetes-patch-merge-key'],
    'type',
  );
});

test('Deployment has its GVK, descriptions and required fields', () => {
  const dep = getDefinition('io.k8s.api.apps.v1.Deployment')!;
  assert.deepEqual(dep['x-kubernetes-group-version-kind'], [{ group: 'apps', kind: 'Deployment', version: 'v1' }]);
  assert.match(dep.description!, /Deployment enables declarative updates/);
  assert.match(dep.properties!.spec.description!, /desired behavior/);
  assert.deepEqual(getDefinition('io.k8s.api.core.v1.Container')!.required, ['name']);
  assert.equal(definitionForGVK('apps', 'v1', 'Deployment'), 'io.k8s.api.apps.v1.Deployment');
  assert.equal(definitionForGVK('', 'v1', 'Pod'), 'io.k8s.api.core.v1.Pod');
  assert.equal(
    definitionForGVK('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition'),
    'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition',
  );
  assert.equal(definitionForGVK('nope', 'v1', 'Pod'), undefined);
});

test('formats follow upstream: int32/int64, date-time, Quantity, IntOrString', () => {
  assert.deepEqual(schemaAtPath('io.k8s.api.apps.v1.DeploymentSpec', ['replicas'])!.format, 'int32');
  assert.equal(schemaAtPath('io.k8s.api.apps.v1.DeploymentSpec', ['replicas'])!.type, 'integer');
  assert.equal(schemaAtPath('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', ['generation'])!.format, 'int64');
  assert.equal(
    resolveRef(schemaAtPath('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta', ['creationTimestamp']))!.format,
    'date-time',
  );
  const quantity = getDefinition('io.k8s.apimachinery.pkg.api.resource.Quantity')!;
  assert.equal(quantity.type, 'string');
  const ios = getDefinition('io.k8s.apimachinery.pkg.util.intstr.IntOrString')!;
  assert.deepEqual([ios.type, ios.format], ['string', 'int-or-string']);
  assert.equal(
    schemaAtPath('io.k8s.api.core.v1.ServicePort', ['targetPort'])!.$ref,
    '#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString',
  );
  const limits = schemaAtPath('io.k8s.api.core.v1.ResourceRequirements', ['limits'])!;
  assert.equal(limits.type, 'object');
  assert.equal(
    (limits.additionalProperties as Schema).$ref,
    '#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity',
  );
  assert.equal(
    schemaAtPath('io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps', ['maximum'])!.format,
    'double',
  );
  assert.equal(getDefinition('io.k8s.apimachinery.pkg.runtime.RawExtension')!.type, 'object');
  assert.equal(getDefinition('io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector')!['x-kubernetes-map-type'], 'atomic');
});

// ------------------------------------------------------------------------------ documents

test('v3 group-version document serves schemas, GVKs and fieldValidation on patch', () => {
  const doc = buildV3GroupVersion('apps', 'v1', RESOURCES) as {
    openapi: string;
    paths: Record<
      string,
      Record<string, { parameters?: { name: string; in: string }[]; 'x-kubernetes-group-version-kind'?: unknown }>
    >;
    components: { schemas: Record<string, Schema> };
  };
  assert.equal(doc.openapi, '3.0.0');
  const item = doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}'];
  assert.deepEqual(item.patch['x-kubernetes-group-version-kind'], {
    group: 'apps',
    kind: 'Deployment',
    version: 'v1',
  });
  assert.ok(item.patch.parameters!.some((p) => p.name === 'fieldValidation' && p.in === 'query'));
  assert.ok(doc.paths['/apis/apps/v1/deployments']);
  const schemas = doc.components.schemas;
  assert.ok(schemas['io.k8s.api.core.v1.PodSpec'], 'reachable definitions are included');
  assert.equal(schemas['io.k8s.api.core.v1.Pod'], undefined, 'unreachable definitions are not');
  const metadata = schemas['io.k8s.api.apps.v1.Deployment'].properties!.metadata;
  assert.deepEqual(metadata.allOf, [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }]);
  assert.ok(!JSON.stringify(doc).includes('#/definitions/'));
  const ios = schemas['io.k8s.apimachinery.pkg.util.intstr.IntOrString'];
  assert.deepEqual(ios.oneOf, [{ type: 'integer' }, { type: 'string' }]);
});

test('v3 document of a CRD group uses the extra definitions', () => {
  const doc = buildV3GroupVersion('stable.example.com', 'v1', RESOURCES, CRD_DEFS) as {
    components: { schemas: Record<string, Schema> };
    paths: Record<string, unknown>;
  };
  assert.ok(doc.components.schemas['com.example.stable.v1.CronTab']);
  assert.ok(doc.components.schemas['io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta']);
  assert.ok(doc.paths['/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}']);
});

test('PATCH of a custom resource offers no strategic merge patch (kubectl apply would send one)', () => {
  const patchTypes = (group: string, path: string) => {
    const v3 = buildV3GroupVersion(group, 'v1', RESOURCES, CRD_DEFS) as {
      paths: Record<string, { patch: { requestBody: { content: Record<string, unknown> } } }>;
    };
    const v2 = buildV2(RESOURCES, CRD_DEFS) as { paths: Record<string, { patch: { consumes: string[] } }> };
    const types = Object.keys(v3.paths[path].patch.requestBody.content);
    assert.deepEqual(v2.paths[path].patch.consumes, types);
    return types;
  };
  const custom = patchTypes('stable.example.com', '/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}');
  assert.deepEqual(custom, [
    'application/json-patch+json',
    'application/merge-patch+json',
    'application/apply-patch+yaml',
  ]);
  const builtin = patchTypes('apps', '/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status');
  assert.ok(builtin.includes('application/strategic-merge-patch+json'));
});

test('v3 index lists group versions with hashed URLs', () => {
  const index = buildV3Index(RESOURCES, CRD_DEFS) as { paths: Record<string, { serverRelativeURL: string }> };
  assert.deepEqual(Object.keys(index.paths), ['api/v1', 'apis/apps/v1', 'apis/stable.example.com/v1']);
  assert.match(index.paths['apis/apps/v1'].serverRelativeURL, /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]+$/);
});

test('v2 document has paths, operation ids, parameters and definitions', () => {
  const doc = buildV2(RESOURCES, CRD_DEFS, { version: 'v1.30.0' }) as {
    swagger: string;
    info: { version: string };
    paths: Record<
      string,
      Record<string, { operationId?: string; parameters?: { name: string }[]; 'x-kubernetes-action'?: string }>
    >;
    definitions: Record<string, Schema>;
  };
  assert.equal(doc.swagger, '2.0');
  assert.equal(doc.info.version, 'v1.30.0');
  const pods = doc.paths['/api/v1/namespaces/{namespace}/pods/{name}'];
  assert.equal(pods.get.operationId, 'readCoreV1NamespacedPod');
  assert.equal(pods.patch['x-kubernetes-action'], 'patch');
  for (const name of ['dryRun', 'fieldManager', 'fieldValidation']) {
    assert.ok(
      pods.put.parameters!.some((p) => p.name === name),
      name,
    );
  }
  assert.equal(doc.paths['/api/v1/namespaces/{name}'].get.operationId, 'readCoreV1Namespace');
  assert.equal(
    doc.paths['/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale'].patch.operationId,
    'patchAppsV1NamespacedDeploymentScale',
  );
  assert.ok(doc.definitions['io.k8s.api.core.v1.Pod']);
  assert.ok(doc.definitions['io.k8s.api.autoscaling.v1.Scale']);
  assert.ok(doc.definitions['com.example.stable.v1.CronTab']);
});

test('document cache serialises once and labels v3 documents with the index hash', () => {
  const cache = new OpenAPIDocumentCache(RESOURCES, CRD_DEFS);
  const first = cache.v3('apis/apps/v1')!;
  assert.equal(cache.v3('apis/apps/v1'), first);
  const index = JSON.parse(cache.v3Index().json) as { paths: Record<string, { serverRelativeURL: string }> };
  assert.ok(index.paths['apis/apps/v1'].serverRelativeURL.endsWith(`hash=${first.hash}`));
  assert.equal(first.etag, `"${first.hash}"`);
  assert.equal(cache.v3('apis/nope/v1'), undefined);
  assert.equal(cache.v2(), cache.v2());
  cache.update(RESOURCES.slice(0, 2));
  assert.equal(cache.v3('apis/apps/v1'), undefined);
});
