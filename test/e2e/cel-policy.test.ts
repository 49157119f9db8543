// ValidatingAdmissionPolicy + ValidatingAdmissionPolicyBinding with the real kubectl: a policy
// capping Deployment replicas denies a 6-replica Deployment with its messageExpression text in
// upstream's format; a Warn binding warns instead; params come from a ConfigMap named by
// paramRef; a policy whose expression does not compile is refused; a policy using the CEL
// authorizer denies a user (kubectl --as) who may not get Secrets in the namespace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';

const POLICY = `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: replica-limit.example.com}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [apps]
      apiVersions: [v1]
      operations: [CREATE, UPDATE]
      resources: [deployments]
  variables:
  - name: replicas
    expression: "has(object.spec.replicas) ? object.spec.replicas : 1"
  validations:
  - expression: "variables.replicas <= 5"
    messageExpression: "'replicas must be no greater than 5, got ' + string(variables.replicas)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: replica-limit-binding}
spec:
  policyName: replica-limit.example.com
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {env: prod}
`;

const deployment = (name: string, ns: string, replicas: number, labels = '') => `
apiVersion: apps/v1
kind: Deployment
metadata: {name: ${name}, namespace: ${ns}${labels}}
spec:
  replicas: ${replicas}
  selector: {matchLabels: {app: ${name}}}
  template:
    metadata: {labels: {app: ${name}}}
    spec: {containers: [{name: c, image: busybox}]}
`;

let c: Cluster;
before(async () => {
  c = await startCluster();
  await c.k(['create', 'namespace', 'prod']);
  await c.k(['label', 'namespace', 'prod', 'env=prod']);
  await c.k(['create', 'namespace', 'dev']);
  await c.k(['apply', '-f', '-'], POLICY);
});
after(async () => {
  await c?.cleanup();
});

test('a policy denies a 6-replica Deployment with its messageExpression, as upstream formats it', async () => {
  const r = await c.kubectl(['apply', '-f', '-'], { input: deployment('big', 'prod', 6) });
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /The deployments "big" is invalid: : ValidatingAdmissionPolicy 'replica-limit.example.com' with binding 'replica-limit-binding' denied request: replicas must be no greater than 5, got 6/,
  );
  await c.k(['apply', '-f', '-'], deployment('small', 'prod', 5));
  // The binding's namespaceSelector leaves other namespaces alone.
  await c.k(['apply', '-f', '-'], deployment('big', 'dev', 6));
  // Updates are checked too.
  const scaled = await c.kubectl(['scale', 'deployment/small', '-n', 'prod', '--replicas=7']);
  assert.equal(scaled.code, 0, 'the scale subresource is not matched by resources: [deployments]');
  const patched = await c.kubectl(['patch', 'deployment', 'small', '-n', 'prod', '-p', '{"spec":{"replicas":8}}']);
  assert.notEqual(patched.code, 0);
  assert.match(patched.stderr, /denied request: replicas must be no greater than 5, got 8/);
});

test('Warn bindings warn; params come from the object paramRef names', async () => {
  await c.k(
    ['apply', '-f', '-'],
    `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: required-label}
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  matchConditions:
  - name: not-the-params
    expression: "object.metadata.name != 'label-rules'"
  validations:
  - expression: "has(object.metadata.labels) && params.data.label in object.metadata.labels"
    message: "missing the required label"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: required-label-warn}
spec:
  policyName: required-label
  validationActions: [Warn]
  paramRef: {name: label-rules, namespace: default, parameterNotFoundAction: Allow}
`,
  );
  // No params object yet: parameterNotFoundAction Allow lets the request through silently.
  const before = await c.kubectl(['create', 'configmap', 'a', '-n', 'dev']);
  assert.equal(before.code, 0, before.stderr);
  assert.doesNotMatch(before.stderr, /Warning/);
  await c.k(['create', 'configmap', 'label-rules', '-n', 'default', '--from-literal=label=team']);
  const warned = await c.kubectl(['create', 'configmap', 'b', '-n', 'dev']);
  assert.equal(warned.code, 0, warned.stderr);
  assert.match(
    warned.stderr,
    /Warning: Validation failed for ValidatingAdmissionPolicy 'required-label' with binding 'required-label-warn': missing the required label/,
  );
  const labelled = await c.kubectl(['apply', '-f', '-'], {
    input: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: dev, labels: {team: x}}\n',
  });
  assert.equal(labelled.code, 0);
  assert.doesNotMatch(labelled.stderr, /Warning/);
});

test('a policy whose expression does not compile is refused; kubectl get lists policies', async () => {
  const r = await c.kubectl(['apply', '-f', '-'], {
    input: `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: broken}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [pods]}
  validations:
  - expression: "object.spec.replicas <="
`,
  });
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /spec\.validations\[0\]\.expression: Invalid value: "object\.spec\.replicas <=": compilation failed: ERROR: <input>:1:/,
  );
  const list = await c.k(['get', 'validatingadmissionpolicies']);
  assert.match(list, /NAME\s+VALIDATIONS\s+PARAMKIND\s+AGE/);
  assert.match(list, /replica-limit.example.com\s+1\s+<unset>/);
  assert.match(list, /required-label\s+1\s+v1\/ConfigMap/);
  const bindings = await c.k(['get', 'validatingadmissionpolicybindings']);
  assert.match(bindings, /required-label-warn\s+required-label\s+default\/label-rules/);
});

test('the authorizer library: a policy denies unless the requesting user may get Secrets there', async () => {
  await c.k(
    ['apply', '-f', '-'],
    `
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: needs-secret-read}
spec:
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  validations:
  - expression: "authorizer.group('').resource('secrets').namespace(request.namespace).check('get').allowed()"
    messageExpression: "'user ' + request.userInfo.username + ' may not get secrets in ' + request.namespace"
  - expression: "authorizer.requestResource.check('create').allowed()"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: needs-secret-read}
spec:
  policyName: needs-secret-read
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {matchLabels: {authz: "on"}}
`,
  );
  await c.k(['create', 'namespace', 'vault']);
  await c.k(['label', 'namespace', 'vault', 'authz=on']);
  await c.k(['create', 'role', 'cm-writer', '--verb=create', '--resource=configmaps', '-n', 'vault']);
  await c.k(['create', 'rolebinding', 'jane-cm', '--role=cm-writer', '--user=jane', '-n', 'vault']);
  // jane may create ConfigMaps (RBAC lets the request through) but not get Secrets: denied.
  let denied = await c.kubectl(['create', 'configmap', 'j1', '-n', 'vault', '--as=jane']);
  for (let i = 0; i < 20 && /forbidden: User "jane" cannot create/.test(denied.stderr); i++) {
    await new Promise((r) => setTimeout(r, 250)); // the RoleBinding reaching the authorizer
    denied = await c.kubectl(['create', 'configmap', 'j1', '-n', 'vault', '--as=jane']);
  }
  assert.notEqual(denied.code, 0);
  assert.match(
    denied.stderr,
    /ValidatingAdmissionPolicy 'needs-secret-read' with binding 'needs-secret-read' denied request: user jane may not get secrets in vault/,
  );
  // The admin (system:masters) may; so may jane once she can read Secrets there.
  await c.k(['create', 'configmap', 'a1', '-n', 'vault']);
  await c.k(['create', 'role', 'secret-reader', '--verb=get', '--resource=secrets', '-n', 'vault']);
  await c.k(['create', 'rolebinding', 'jane-secrets', '--role=secret-reader', '--user=jane', '-n', 'vault']);
  let allowed = await c.kubectl(['create', 'configmap', 'j1', '-n', 'vault', '--as=jane']);
  for (let i = 0; i < 20 && allowed.code !== 0; i++) {
    await new Promise((r) => setTimeout(r, 250));
    allowed = await c.kubectl(['create', 'configmap', 'j1', '-n', 'vault', '--as=jane']);
  }
  assert.equal(allowed.code, 0, allowed.stderr);
});
