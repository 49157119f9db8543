// CRD x-kubernetes-validations with the real kubectl: a cross-field rule with its message, a
// transition rule (oldSelf only on update), messageExpression + reason + fieldPath, and a rule
// that does not compile refused when the CRD is created.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from './harness.js';
import { until } from '../support/until.js';

const crd = (rule = 'self.minReplicas <= self.maxReplicas') => `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: scalers.cel.example.com
spec:
  group: cel.example.com
  scope: Namespaced
  names: {plural: scalers, singular: scaler, kind: Scaler}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            x-kubernetes-validations:
            - rule: ${JSON.stringify(rule)}
              message: minReplicas must not exceed maxReplicas
            - rule: "self.mode == oldSelf.mode"
              message: mode is immutable
            - rule: "!has(self.tags) || self.tags.all(t, t.matches('^[a-z]+$'))"
              messageExpression: "'tags must be lower case, got ' + string(size(self.tags)) + ' tags'"
              reason: FieldValueForbidden
              fieldPath: .tags
            properties:
              minReplicas: {type: integer}
              maxReplicas: {type: integer}
              mode: {type: string}
              tags: {type: array, maxItems: 10, items: {type: string, maxLength: 63}}
              ratio:
                type: number
                x-kubernetes-validations:
                - rule: "self < 1.5"
`;

const obj = (name: string, min: number, max: number, extra = '') => `
apiVersion: cel.example.com/v1
kind: Scaler
metadata: {name: ${name}, namespace: default}
spec: {minReplicas: ${min}, maxReplicas: ${max}, mode: fast${extra}}
`;

let c: Cluster;
before(async () => {
  c = await startCluster();
  await c.k(['apply', '-f', '-'], crd());
  await until('scalers served', async () => (await c.kubectl(['get', 'scalers'])).code === 0, 20_000);
});
after(async () => {
  await c?.cleanup();
});

test('a cross-field rule rejects an invalid object with its message', async () => {
  const bad = await c.kubectl(['apply', '-f', '-'], { input: obj('bad', 5, 2) });
  assert.notEqual(bad.code, 0);
  assert.match(
    bad.stderr,
    /The Scaler "bad" is invalid: spec: Invalid value: "object": minReplicas must not exceed maxReplicas/,
  );
  await c.k(['apply', '-f', '-'], obj('good', 1, 3));
});

test('a transition rule sees oldSelf on update only', async () => {
  // Created with any mode (no oldSelf on create)…
  await c.k(['apply', '-f', '-'], obj('t1', 1, 2).replace('mode: fast', 'mode: slow'));
  // …then refused when the mode changes, allowed when other fields do.
  const patch = (spec: string) => c.kubectl(['patch', 'scaler', 't1', '--type=merge', '-p', `{"spec":${spec}}`]);
  const changed = await patch('{"mode":"fast"}');
  assert.notEqual(changed.code, 0);
  assert.match(changed.stderr, /The Scaler "t1" is invalid: spec: Invalid value: "object": mode is immutable/);
  const other = await patch('{"maxReplicas":4}');
  assert.equal(other.code, 0, other.stderr);
});

test('messageExpression, reason and fieldPath shape the error; a double field is a CEL double', async () => {
  const r = await c.kubectl(['apply', '-f', '-'], { input: obj('tags', 1, 2, ', tags: [ok, NotOk]') });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /spec\.tags: Forbidden: tags must be lower case, got 2 tags/);
  const ratio = await c.kubectl(['apply', '-f', '-'], { input: obj('ratio', 1, 2, ', ratio: 2') });
  assert.match(ratio.stderr, /spec\.ratio: Invalid value: 2: failed rule: self < 1.5/);
  await c.k(['apply', '-f', '-'], obj('ratio', 1, 2, ', ratio: 1'));
});

test('a rule that does not compile is refused with the CRD', async () => {
  const r = await c.kubectl(['apply', '-f', '-'], {
    input: crd('self.minReplicas <=')
      .replace('scalers.cel', 'brokens.cel')
      .replace(/scaler/g, 'broken')
      .replace('Scaler', 'Broken'),
  });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /The CustomResourceDefinition "brokens.cel.example.com" is invalid/);
  assert.match(
    r.stderr,
    /spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\[spec\]\.x-kubernetes-validations\[0\]\.rule: Invalid value: apiextensions\.ValidationRule\{Rule:"self\.minReplicas <="/,
  );
  assert.match(r.stderr, /compilation failed: ERROR: <input>:1:/);
});

test('a rule whose estimated cost is over budget is refused with the CRD until its list and strings are bounded', async () => {
  const unbounded = crd()
    .replace('scalers.cel', 'costlies.cel')
    .replace(/scaler/g, 'costly')
    .replace('Scaler', 'Costly')
    .replace(
      'tags: {type: array, maxItems: 10, items: {type: string, maxLength: 63}}',
      'tags: {type: array, items: {type: string}}',
    );
  const r = await c.kubectl(['apply', '-f', '-'], { input: unbounded });
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /spec\.versions\[0\]\.schema\.openAPIV3Schema\.properties\[spec\]\.x-kubernetes-validations\[2\]\.rule: Forbidden: estimated rule cost exceeds budget by factor of more than 100x \(try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared\)/,
  );
  assert.match(
    r.stderr,
    /openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema exceeds budget/,
  );
});
