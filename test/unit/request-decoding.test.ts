// Request body decoding helpers: duplicate-key scanning and unknown-field pruning, whose paths
// and messages clients see in warnings and 400s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duplicateJSONKeys } from '../../src/apiserver/http.js';
import { BuiltinFieldSchema } from '../../src/apiserver/fieldschema.js';

test('duplicateJSONKeys: per object, escapes inside strings respected', () => {
  assert.deepEqual(duplicateJSONKeys('{"a":1,"a":2}'), ['a']);
  assert.deepEqual(duplicateJSONKeys('{"a":"x\\"a","b":{"a":1,"a":2},"c":"\\\\","c":3}'), ['a', 'c']);
  assert.deepEqual(duplicateJSONKeys('{"k":"\\\\\\"","k":1}'), ['k']);
  assert.deepEqual(duplicateJSONKeys('[{"a":1},{"a":2}]'), []);
  assert.deepEqual(duplicateJSONKeys('{"a":["a","a"],"b":"a"}'), []);
  // A value that looks like a key is not one.
  assert.deepEqual(duplicateJSONKeys('{"a":"b","c":"b"}'), []);
});

test('unknown fields: pruned in place and named by their path', () => {
  const schema = new BuiltinFieldSchema();
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', bogus: 1 },
    spec: { containers: [{ name: 'a', image: 'b', foo: 2, ports: [{ containerPort: 1, zap: 3 }] }] },
    zz: 1,
  };
  assert.deepEqual(schema.prune('', 'v1', 'Pod', pod), [
    'metadata.bogus',
    'spec.containers[0].foo',
    'spec.containers[0].ports[0].zap',
    'zz',
  ]);
  assert.deepEqual(pod, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p' },
    spec: { containers: [{ name: 'a', image: 'b', ports: [{ containerPort: 1 }] }] },
  });
  // Free-form maps keep every key.
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { labels: { 'a.b/c': 'd' } }, data: { '[x]': 'y' } };
  assert.deepEqual(schema.prune('', 'v1', 'ConfigMap', cm), []);
  assert.throws(() => schema.prune('', 'v1', 'Pod', { spec: { containers: [{ name: 1 }] } }), {
    message:
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string',
  });
});
