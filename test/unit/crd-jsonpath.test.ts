import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JSONPath, evaluate, parseJSONPath, JSONPathError } from '../../src/machinery/jsonpath.js';

const pod = {
  metadata: { name: 'p', labels: { 'app.kubernetes.io/name': 'web', tier: 'front' } },
  spec: {
    containers: [
      { name: 'a', image: 'nginx' },
      { name: 'b', image: 'redis' },
    ],
    replicas: 3,
  },
  status: {
    conditions: [
      { type: 'Ready', status: 'True' },
      { type: 'Scheduled', status: 'False' },
    ],
  },
};

test('dotted fields and indexes', () => {
  assert.deepEqual(evaluate('.spec.replicas', pod), [3]);
  assert.deepEqual(evaluate('{.spec.replicas}', pod), [3]);
  assert.deepEqual(evaluate('spec.replicas', pod), [3]);
  assert.deepEqual(evaluate('.spec.containers[1].image', pod), ['redis']);
  assert.deepEqual(evaluate('.spec.containers[-1].name', pod), ['b']);
  assert.deepEqual(evaluate('.spec.missing', pod), []);
  assert.deepEqual(evaluate('.spec.replicas.deeper', pod), []);
});

test('wildcards, slices and recursive descent', () => {
  assert.deepEqual(evaluate('.spec.containers[*].name', pod), ['a', 'b']);
  assert.deepEqual(evaluate('.spec.containers[0:1].name', pod), ['a']);
  assert.deepEqual(evaluate('..image', pod), ['nginx', 'redis']);
  assert.deepEqual(evaluate('.metadata.labels.*', pod).sort(), ['front', 'web']);
});

test('quoted keys', () => {
  assert.deepEqual(evaluate(".metadata.labels['app.kubernetes.io/name']", pod), ['web']);
  assert.deepEqual(evaluate('.metadata.labels["tier"]', pod), ['front']);
});

test('filters', () => {
  assert.deepEqual(evaluate('.status.conditions[?(@.type=="Ready")].status', pod), ['True']);
  assert.deepEqual(evaluate(".status.conditions[?(@.type == 'Scheduled')].status", pod), ['False']);
  assert.deepEqual(evaluate('.status.conditions[?(@.type!="Ready")].type', pod), ['Scheduled']);
  assert.deepEqual(evaluate('.spec.containers[?(@.image)].name', pod), ['a', 'b']);
  assert.deepEqual(evaluate('.items[?(@.n > 1)].n', { items: [{ n: 1 }, { n: 2 }, { n: 3 }] }), [2, 3]);
});

test('syntax errors are reported', () => {
  assert.throws(() => parseJSONPath('.spec[abc'), JSONPathError);
  assert.throws(() => parseJSONPath('.spec.#x'), JSONPathError);
  assert.equal(new JSONPath('.a').find({ a: 1 })[0], 1);
});
