// MutatingAdmissionPolicy: object construction rewritten to map literals, mutation expressions
// compiled with jsonpatch.escapeKey, and the admission plugin inside a real API server:
// ApplyConfiguration merges by the schema (containers by name), JSONPatch `test` failures leave
// the object alone, policies run in name order and IfNeeded ones run again after a later change.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod } from 'kubernetes-types/core/v1.js';
import {
  CelCompileError,
  JSONPATCH_LIBRARY,
  compileMutation,
  desugarObjectConstruction,
  fromCel,
  objectTypeErrors,
  objectTypeName,
  toCel,
} from '../../src/cel/index.js';
import {
  type MutatingAdmissionPolicy,
  type MutatingAdmissionPolicyBinding,
  validateMutatingPolicy,
} from '../../src/api/admissionregistration/v1/mutatingadmissionpolicy.js';
import { ApiError } from '../../src/machinery/errors.js';
import { Client, R, spec } from '../../src/client/client.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';
import { startTestApi, type TestApi } from './client-fixture.js';

test('object construction becomes a tagged map literal; strings, nested maps and selections are left alone', () => {
  assert.equal(desugarObjectConstruction('Object{a: 1}'), '__k8ts_object("Object", {"a": 1})');
  assert.equal(
    desugarObjectConstruction('Object{spec: Object.spec{x: {"k": "Object{no: rewrite}"}, y: object.spec.y}}'),
    '__k8ts_object("Object", {"spec": __k8ts_object("Object.spec", {"x": {"k": "Object{no: rewrite}"}, "y": object.spec.y})})',
  );
  assert.equal(
    desugarObjectConstruction('[JSONPatch{op: "add", path: p}]'),
    '[__k8ts_object("JSONPatch", {"op": "add", "path": p})]',
  );
  assert.equal(desugarObjectConstruction('x.exists(e, e == {"a": 1})'), 'x.exists(e, e == {"a": 1})');
  assert.equal(desugarObjectConstruction("r'Object{a: 1}' + '''x'''"), "r'Object{a: 1}' + '''x'''");
  // The private function is not for users.
  assert.throws(() => compileMutation('__k8ts_object("Object", {})'), CelCompileError);
});

test('constructed type names must follow the field path from the root Object', () => {
  const vars = {
    object: null,
    oldObject: null,
    request: null,
    params: null,
    namespaceObject: null,
    authorizer: null,
    variables: null,
    jsonpatch: JSONPATCH_LIBRARY,
  };
  const value = (e: string) => compileMutation(e).evaluate(vars).value;
  assert.equal(objectTypeName(value('Object{}')), 'Object');
  assert.deepEqual(
    objectTypeErrors(
      value('Object{spec: Object.spec{containers: [Object.spec.containers{name: "a"}], x: {"k": Object.spec.x{}}}}'),
    ),
    [],
    'lists and plain maps in between keep the path',
  );
  assert.deepEqual(objectTypeErrors(value('Object{spec: Object.spec{selector: Object.spec.wrong{}}}')), [
    'unexpected type name "Object.spec.wrong", expected "Object.spec.selector", which matches field name path from root Object type',
  ]);
  assert.equal(objectTypeName(value('{"spec": {}}')), undefined);
});

test('mutation expressions evaluate to the JSON they construct', () => {
  const vars = {
    object: toCel({ metadata: { name: 'a' }, spec: { replicas: 3 } }),
    oldObject: null,
    request: null,
    params: null,
    namespaceObject: null,
    authorizer: null,
    variables: null,
    jsonpatch: JSONPATCH_LIBRARY,
  };
  const apply = compileMutation('Object{spec: Object.spec{replicas: object.spec.replicas + 1}}');
  assert.deepEqual(fromCel(apply.evaluate(vars).value), { spec: { replicas: 4 } });
  const patch = compileMutation(
    '[JSONPatch{op: "add", path: "/metadata/annotations/" + jsonpatch.escapeKey("a.io/b~c"), value: "v"}]',
  );
  assert.deepEqual(fromCel(patch.evaluate(vars).value), [
    { op: 'add', path: '/metadata/annotations/a.io~1b~0c', value: 'v' },
  ]);
  assert.equal(patch.expression.startsWith('[JSONPatch{'), true, 'the program reports the expression as written');
  assert.throws(() => compileMutation('Object{spec: '), CelCompileError);
});

test('validation: mutations are required, patch types checked, result types checked', () => {
  const base = {
    matchConstraints: {
      resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
    },
  };
  const messages = (spec: object) =>
    validateMutatingPolicy({ spec: { ...base, ...spec } }).map((e) => `${e.field}: ${e.detail ?? ''}`);
  assert.deepEqual(messages({}), ['spec.mutations: Required value: mutations must contain at least one item']);
  assert.match(messages({ mutations: [{ patchType: 'Merge' }] })[0], /^spec\.mutations\[0\]\.patchType: /);
  assert.match(
    messages({ mutations: [{ patchType: 'JSONPatch', jsonPatch: { expression: 'Object{}' } }] })[0],
    /spec\.mutations\[0\]\.jsonPatch\.expression: Invalid value: .*must evaluate to list\(JSONPatch\)/,
  );
  assert.match(
    messages({ mutations: [{ patchType: 'ApplyConfiguration', applyConfiguration: { expression: '"x"' } }] })[0],
    /must evaluate to Object but got string/,
  );
  assert.deepEqual(
    messages({
      reinvocationPolicy: 'IfNeeded',
      mutations: [{ patchType: 'ApplyConfiguration', applyConfiguration: { expression: 'Object{}' } }],
    }),
    [],
  );
});

const GROUP = 'admissionregistration.k8s.io';
const policies = spec<MutatingAdmissionPolicy>({
  group: GROUP,
  version: 'v1beta1',
  plural: 'mutatingadmissionpolicies',
  namespaced: false,
  kind: 'MutatingAdmissionPolicy',
});
const bindings = spec<MutatingAdmissionPolicyBinding>({
  group: GROUP,
  version: 'v1beta1',
  plural: 'mutatingadmissionpolicybindings',
  namespaced: false,
  kind: 'MutatingAdmissionPolicyBinding',
});

describe('the MutatingAdmissionPolicy plugin', () => {
  let t: TestApi;
  let client: Client;
  const podRules = {
    resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
  };
  const addPolicy = async (name: string, spec: object) => {
    await client.resource(policies).create({ metadata: { name }, spec: { matchConstraints: podRules, ...spec } });
    await client.resource(bindings).create({ metadata: { name }, spec: { policyName: name } });
  };
  const removePolicy = async (name: string) => {
    await client.resource(bindings).delete(name);
    await client.resource(policies).delete(name);
  };
  const pod = (name: string, extra: Partial<Pod['spec']> = {}): Pod => ({
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: {
      containers: [
        { name: 'app', image: 'busybox' },
        { name: 'side', image: 'busybox' },
      ],
      ...extra,
    },
  });

  before(async () => {
    t = await startTestApi();
    client = inProcessClient(t.api, { fieldManager: 'test' });
  });
  after(async () => {
    await t?.stop();
  });

  test('ApplyConfiguration merges containers by name; untouched fields stay', async () => {
    await addPolicy('env', {
      mutations: [
        {
          patchType: 'ApplyConfiguration',
          applyConfiguration: {
            expression:
              'Object{spec: Object.spec{containers: [Object.spec.containers{name: "side", env: [Object.spec.containers.env{name: "MODE", value: "sidecar"}]}]}}',
          },
        },
      ],
    });
    try {
      const created = await client.resource(R.pods).namespace('default').create(pod('merge'));
      const [app, side] = created.spec?.containers ?? [];
      assert.equal(app.name, 'app');
      assert.equal(app.env, undefined);
      assert.equal(side.name, 'side');
      assert.deepEqual(side.env, [{ name: 'MODE', value: 'sidecar' }]);
      assert.equal(side.image, 'busybox');
    } finally {
      await removePolicy('env');
    }
  });

  test('ApplyConfiguration may not set atomic lists or structs, nor misname a type, nor return a plain map', async () => {
    const refusal = async (name: string, expression: string, message: RegExp) => {
      await addPolicy(name, { mutations: [{ patchType: 'ApplyConfiguration', applyConfiguration: { expression } }] });
      try {
        await assert.rejects(client.resource(R.pods).namespace('default').create(pod(name)), (err: unknown) => {
          assert.ok(err instanceof ApiError);
          assert.equal(err.code, 403);
          assert.match(err.message, message);
          return true;
        });
      } finally {
        await removePolicy(name);
      }
    };
    await refusal(
      'atomic',
      'Object{spec: Object.spec{containers: [Object.spec.containers{name: "app", args: ["x"]}], imagePullSecrets: [Object.spec.imagePullSecrets{name: "reg"}]}}',
      /^policy 'atomic' with binding 'atomic' denied request: error applying patch: invalid ApplyConfiguration: may not mutate atomic arrays, maps or structs: \.spec\.containers\[0\]\.args, \.spec\.imagePullSecrets\[0\]$/,
    );
    await refusal(
      'misnamed',
      'Object{spec: Object.spec{nodeSelector: Object.spec.wrong{}}}',
      /denied request: type mismatch: unexpected type name "Object\.spec\.wrong", expected "Object\.spec\.nodeSelector"/,
    );
    await refusal(
      'plain',
      '{"metadata": {"labels": {"a": "b"}}}',
      /denied request: unsupported return type from ApplyConfiguration expression: object/,
    );
  });

  test('IfNeeded policies run again when a later policy changed the object', async () => {
    // "a-count" runs first (name order) and counts the labels; "b-label" then adds one.
    await addPolicy('a-count', {
      reinvocationPolicy: 'IfNeeded',
      mutations: [
        {
          patchType: 'ApplyConfiguration',
          applyConfiguration: {
            expression:
              'Object{metadata: Object.metadata{annotations: {"labels": string(size(object.metadata.labels))}}}',
          },
        },
      ],
    });
    await addPolicy('b-label', {
      mutations: [
        {
          patchType: 'JSONPatch',
          jsonPatch: { expression: '[JSONPatch{op: "add", path: "/metadata/labels/extra", value: "yes"}]' },
        },
      ],
    });
    try {
      const created = await client.resource(R.pods).namespace('default').create(pod('again'));
      assert.equal(created.metadata?.labels?.extra, 'yes');
      assert.equal(created.metadata?.annotations?.labels, '2', 'a-count saw the label b-label added');
      await client.resource(policies).patch('a-count', 'merge', { spec: { reinvocationPolicy: 'Never' } });
      const once = await client.resource(R.pods).namespace('default').create(pod('once'));
      assert.equal(once.metadata?.annotations?.labels, '1', 'without IfNeeded a-count ran once, before b-label');
    } finally {
      await removePolicy('a-count');
      await removePolicy('b-label');
    }
  });

  test('failurePolicy Ignore admits the object unchanged; Fail refuses with upstream wording', async () => {
    const failing = {
      mutations: [
        { patchType: 'JSONPatch', jsonPatch: { expression: '[JSONPatch{op: "remove", path: "/spec/nothing"}]' } },
      ],
    };
    await addPolicy('lenient', { ...failing, failurePolicy: 'Ignore' });
    try {
      const created = await client.resource(R.pods).namespace('default').create(pod('lenient'));
      assert.equal(created.metadata?.name, 'lenient');
    } finally {
      await removePolicy('lenient');
    }
    await addPolicy('strict', failing);
    try {
      await assert.rejects(client.resource(R.pods).namespace('default').create(pod('strict')), (err: unknown) => {
        assert.ok(err instanceof ApiError);
        assert.equal(err.code, 403);
        assert.match(err.message, /^policy 'strict' with binding 'strict' denied request: JSONPath: /);
        return true;
      });
    } finally {
      await removePolicy('strict');
    }
  });
});
