// MutatingAdmissionPolicy + MutatingAdmissionPolicyBinding with the real kubectl: an
// ApplyConfiguration adds a label and defaults a field, a JSONPatch adds an annotation (with
// jsonpatch.escapeKey), a param-driven policy reads its value from a ConfigMap, failurePolicy
// Fail refuses a request whose mutation fails while Ignore lets it through, and v1alpha1 serves
// the same objects.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import { startCluster, type Cluster } from './harness.js';

const POLICIES = `
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: label-and-default}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE], resources: [deployments]}
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >
        Object{
          metadata: Object.metadata{labels: {"mutated-by": "policy"}},
          spec: Object.spec{
            revisionHistoryLimit: has(object.spec.revisionHistoryLimit) && object.spec.revisionHistoryLimit != 10 ? object.spec.revisionHistoryLimit : 3
          }
        }
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: label-and-default}
spec:
  policyName: label-and-default
  matchResources:
    namespaceSelector:
      matchLabels: {mutate: "yes"}
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: annotate}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  matchConditions:
  - name: labelled
    expression: "has(object.metadata.labels) && 'annotate' in object.metadata.labels"
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: >
        [
          JSONPatch{op: "test", path: "/metadata/annotations", value: null},
          JSONPatch{op: "add", path: "/metadata/annotations", value: {}}
        ]
  - patchType: JSONPatch
    jsonPatch:
      expression: >
        [JSONPatch{op: "add", path: "/metadata/annotations/" + jsonpatch.escapeKey("example.com/seen"), value: "true"}]
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: annotate}
spec:
  policyName: annotate
`;

let c: Cluster;
before(async () => {
  c = await startCluster();
  await c.k(['create', 'namespace', 'mut-on']);
  await c.k(['label', 'namespace', 'mut-on', 'mutate=yes']);
  await c.k(['create', 'namespace', 'mut-off']);
  await c.k(['apply', '-f', '-'], POLICIES);
});
after(async () => {
  await c?.cleanup();
});

const deployment = (name: string, ns: string) => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}, labels: {app: ${name}}}
spec:
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: c, image: busybox}]}
`;

/** What the tests read of the objects they get. */
interface Got {
  apiVersion: string;
  metadata: ObjectMeta;
  spec: Deployment['spec'] & { mutations?: unknown[] };
}
const getJson = async (args: string[]): Promise<Got> => JSON.parse(await c.k([...args, '-o', 'json'])) as Got;

test('an ApplyConfiguration adds a label and sets a default, only where its binding matches', async () => {
  await c.k(['apply', '-f', '-'], deployment('web', 'mut-on'));
  const d = await getJson(['get', 'deployment', 'web', '-n', 'mut-on']);
  assert.deepEqual(d.metadata.labels, { app: 'web', 'mutated-by': 'policy' });
  assert.equal(d.spec?.revisionHistoryLimit, 3);
  // Fields the apply configuration does not name stay as they were (merged, not replaced).
  assert.equal(d.spec?.template.spec?.containers[0].image, 'busybox');
  await c.k(['apply', '-f', '-'], deployment('web', 'mut-off'));
  const untouched = await getJson(['get', 'deployment', 'web', '-n', 'mut-off']);
  assert.deepEqual(untouched.metadata.labels, { app: 'web' });
  assert.equal(untouched.spec?.revisionHistoryLimit, 10);
  assert.match(await c.k(['get', 'mutatingadmissionpolicies']), /label-and-default\s+1\s+<unset>/);
  // v1alpha1 serves the same objects.
  const alpha = await getJson(['get', 'mutatingadmissionpolicies.v1alpha1.admissionregistration.k8s.io', 'annotate']);
  assert.equal(alpha.apiVersion, 'admissionregistration.k8s.io/v1alpha1');
  assert.equal(alpha.spec?.mutations?.length, 2);
});

test('a JSONPatch adds an annotation; matchConditions select the objects', async () => {
  await c.k(['create', 'configmap', 'plain', '-n', 'mut-off']);
  await c.k(
    ['create', '-f', '-'],
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: tagged, namespace: mut-off, labels: {annotate: x}}\n',
  );
  const tagged = await getJson(['get', 'configmap', 'tagged', '-n', 'mut-off']);
  assert.deepEqual(tagged.metadata.annotations, { 'example.com/seen': 'true' });
  const plain = await getJson(['get', 'configmap', 'plain', '-n', 'mut-off']);
  assert.equal(plain.metadata.annotations, undefined);
  // A failed `test` operation leaves the annotations of an object that has some.
  await c.k(
    ['create', '-f', '-'],
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept, namespace: mut-off, labels: {annotate: x}, annotations: {a: b}}\n',
  );
  const kept = await getJson(['get', 'configmap', 'kept', '-n', 'mut-off']);
  assert.deepEqual(kept.metadata.annotations, { a: 'b', 'example.com/seen': 'true' });
});

test('a param-driven policy takes its value from the ConfigMap paramRef names', async () => {
  await c.k(['create', 'configmap', 'team-config', '-n', 'default', '--from-literal=team=blue']);
  await c.k(
    ['apply', '-f', '-'],
    `
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: team-label}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [secrets]}
  variables:
  - name: team
    expression: "params.data.team"
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: "Object{metadata: Object.metadata{labels: {'team': variables.team}}}"
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: team-label}
spec:
  policyName: team-label
  paramRef: {name: team-config, namespace: default}
`,
  );
  await c.k(['create', 'secret', 'generic', 's1', '-n', 'mut-off', '--from-literal=k=v']);
  const s = await getJson(['get', 'secret', 's1', '-n', 'mut-off']);
  assert.deepEqual(s.metadata.labels, { team: 'blue' });
  assert.match(await c.k(['get', 'mutatingadmissionpolicybindings']), /team-label\s+team-label\s+default\/team-config/);
  // The params object gone: parameterNotFoundAction defaults to Deny, which refuses.
  await c.k(['delete', 'configmap', 'team-config', '-n', 'default']);
  const refused = await c.kubectl(['create', 'secret', 'generic', 's2', '-n', 'mut-off', '--from-literal=k=v']);
  assert.notEqual(refused.code, 0);
  assert.match(
    refused.stderr,
    /policy 'team-label' with binding 'team-label' denied request: failed to configure binding: no params found for policy binding with `Deny` parameterNotFoundAction/,
  );
});

test('failurePolicy: Fail refuses a request whose mutation fails, Ignore admits it unchanged', async () => {
  const policy = (name: string, failurePolicy: string) => `
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicy
metadata: {name: ${name}}
spec:
  failurePolicy: ${failurePolicy}
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [services]}
  matchConditions:
  - name: mine
    expression: "object.metadata.name.startsWith('${name}')"
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: "[JSONPatch{op: 'replace', path: '/spec/no/such/field', value: 1}]"
---
apiVersion: admissionregistration.k8s.io/v1beta1
kind: MutatingAdmissionPolicyBinding
metadata: {name: ${name}}
spec:
  policyName: ${name}
`;
  await c.k(['apply', '-f', '-'], policy('strict', 'Fail') + '---' + policy('lenient', 'Ignore'));
  const refused = await c.kubectl(['create', 'service', 'clusterip', 'strict-svc', '-n', 'mut-off', '--tcp=80:80']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /policy 'strict' with binding 'strict' denied request: JSONPath: /);
  const admitted = await c.kubectl(['create', 'service', 'clusterip', 'lenient-svc', '-n', 'mut-off', '--tcp=80:80']);
  assert.equal(admitted.code, 0, admitted.stderr);
  // A policy whose mutation does not compile is refused at creation.
  const broken = await c.kubectl(['apply', '-f', '-'], {
    input: policy('broken', 'Fail').replace(
      "[JSONPatch{op: 'replace', path: '/spec/no/such/field', value: 1}]",
      '[JSONPatch{',
    ),
  });
  assert.notEqual(broken.code, 0);
  assert.match(broken.stderr, /spec\.mutations\[0\]\.jsonPatch\.expression: Invalid value: .*compilation failed/);
});
