// The write path's shortcuts answer exactly what the long way answers: one scan of a JSON body
// for its depth and repeated keys, the stored form of an object already in that form, and the
// Accept negotiation kept per header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBody, duplicateJSONKeys, negotiate, scanJSONText, type JSONScan } from '../../src/apiserver/http.js';
import { parseRequestPath } from '../../src/apiserver/requestinfo.js';
import { encodeStored } from '../../src/machinery/objects.js';
import { jsonNestedDeeperThan } from '../../src/machinery/nesting.js';
import { prng as rng } from '../support/prng.js';

const KEYS = ['a', 'b', 'a\\"', 'c\\\\', 'é', '{', '[', ','];

/** A JSON text with repeated keys now and then, escapes and brackets inside strings. */
function randomJSON(r: () => number, depth: number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const x = r();
  if (depth <= 0 || x < 0.3) return pick(['1', 'null', '"x"', '"[{\\"}"', '"\\\\"', 'true']);
  if (x < 0.5) {
    const n = Math.floor(r() * 4);
    return `[${Array.from({ length: n }, () => randomJSON(r, depth - 1)).join(', ')}]`;
  }
  const n = Math.floor(r() * 5);
  return `{${Array.from({ length: n }, () => `"${pick(KEYS)}": ${randomJSON(r, depth - 1)}`).join(',')}}`;
}

/** The duplicates as a plain per-object scan finds them (a Set of keys per open object). */
function referenceDuplicates(text: string): string[] {
  const dups: string[] = [];
  const stack: { object: boolean; keys: Set<string> }[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack.at(-1);
      if (expectKey && top?.object) {
        const k = text.slice(i + 1, j);
        if (top.keys.has(k)) dups.push(k);
        top.keys.add(k);
        expectKey = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      stack.push({ object: c === '{', keys: new Set() });
      if (c === '{') expectKey = true;
    } else if (c === '}' || c === ']') stack.pop();
    else if (c === ',') expectKey = !!stack.at(-1)?.object;
  }
  return dups;
}

test('scanJSONText: the repeated keys and the depth of random JSON texts, as separate scans find them', () => {
  const r = rng(16);
  for (let n = 0; n < 3000; n++) {
    const text = randomJSON(r, 6);
    JSON.parse(text); // the generator writes JSON
    assert.deepEqual(scanJSONText(text, Infinity), referenceDuplicates(text), text);
    assert.deepEqual(duplicateJSONKeys(text), referenceDuplicates(text), text);
    for (const limit of [1, 2, 3, 5]) {
      const scanned = scanJSONText(text, limit);
      assert.equal(scanned === undefined, jsonNestedDeeperThan(text, limit), `${text} at ${limit}`);
      if (scanned) assert.deepEqual(scanned, referenceDuplicates(text));
    }
  }
  assert.deepEqual(scanJSONText('{"a":{"k":1,"k":2,"k":3},"a":[]}', 10), ['k', 'k', 'a']);
});

test('decodeBody: a JSON body reports its repeated keys; a too deep one is refused before parsing', async () => {
  const found: JSONScan = {};
  assert.deepEqual(await decodeBody('{"a":1,"b":{"c":2,"c":3},"a":4}', 'application/json', found), {
    a: 4,
    b: { c: 3 },
  });
  assert.deepEqual(found.duplicates, ['c', 'a']);
  const deep = `${'['.repeat(10_001)}${']'.repeat(10_001)}`;
  await assert.rejects(decodeBody(deep, 'application/json', {}), /nested too deeply/);
  await assert.rejects(decodeBody(deep, 'application/json'), /nested too deeply/);
  // YAML that is JSON: a repeated key is an error there.
  await assert.rejects(decodeBody('{"a":1,"a":2}', 'application/yaml'), /Map keys must be unique: "a"/);
  await assert.rejects(decodeBody('{"a":1', 'application/json', {}), /couldn't decode request body as JSON/);
});

test('encodeStored: an object already in stored order is the same text as one put in order', () => {
  const slow = (obj: any) => {
    const { resourceVersion: _rv, ...meta } = obj.metadata;
    const { apiVersion, kind, metadata: _m, ...rest } = obj;
    return JSON.stringify({ apiVersion, kind, metadata: meta, ...rest });
  };
  const objs: any[] = [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', namespace: 'n' }, data: { k: 'v' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', resourceVersion: undefined }, data: {} },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'a', resourceVersion: '7' }, data: {} },
    { kind: 'ConfigMap', apiVersion: 'v1', metadata: { name: 'a' }, data: {} },
    { apiVersion: 'v1', metadata: { name: 'a' }, kind: 'ConfigMap', data: {} },
    { apiVersion: undefined, kind: 'ConfigMap', metadata: { name: 'a' } },
    JSON.parse('{"apiVersion":"v1","kind":"X","metadata":{"name":"a"},"__proto__":{"x":1}}'),
  ];
  for (const o of objs) assert.equal(encodeStored(o), slow(o), JSON.stringify(o));
});

test('negotiate: answers kept per Accept header are those worked out afresh, and cannot be changed', () => {
  const accepts = [
    undefined,
    'application/json',
    'application/vnd.kubernetes.protobuf, */*',
    'application/json;as=Table;v=v1;g=meta.k8s.io, application/json',
    'application/yaml',
  ];
  for (const protobuf of ['objects', 'metadata'] as const) {
    for (const a of accepts) {
      const first = negotiate(a, { protobuf });
      assert.deepEqual(negotiate(a, { protobuf }), first);
      assert.ok(Object.isFrozen(first));
    }
  }
  assert.equal(negotiate('application/vnd.kubernetes.protobuf', { protobuf: 'objects' }).protobuf, true);
  assert.equal(negotiate('application/vnd.kubernetes.protobuf, */*', { protobuf: 'metadata' }).protobuf, false);
  // A refusal is no answer to keep: asked again, refused again.
  for (let i = 0; i < 2; i++)
    assert.throws(() => negotiate('text/html', { protobuf: 'objects' }), /only the following/);
  // A long header is answered without being kept.
  const long = `application/json;${'x=1;'.repeat(200)}`;
  assert.equal(negotiate(long).kind, 'object');
});

test('parseRequestPath: leading, trailing and doubled slashes', () => {
  assert.deepEqual(parseRequestPath('//api/v1/namespaces/ns/configmaps/a///'), {
    kind: 'resource',
    group: '',
    version: 'v1',
    resource: 'configmaps',
    namespace: 'ns',
    name: 'a',
  });
  assert.deepEqual(parseRequestPath('/api/v1/namespaces//configmaps'), {
    kind: 'resource',
    group: '',
    version: 'v1',
    resource: '',
  });
  assert.deepEqual(parseRequestPath('///'), { kind: 'other', path: '///' });
  assert.deepEqual(parseRequestPath('/apis/apps'), { kind: 'other', path: '/apis/apps' });
});
