import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeOpenAPIV2, acceptsOpenAPIV2Protobuf } from '../../src/machinery/openapi/protobuf.js';

type Field = { n: number; wire: number; v: number | Buffer };

/** A minimal protobuf reader: the fields of one message. */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = () => {
    let r = 0;
    let s = 1;
    for (;;) {
      const b = buf[i++];
      r += (b & 0x7f) * s;
      if (b < 0x80) return r;
      s *= 128;
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const n = tag >>> 3;
    const wire = tag & 7;
    if (wire === 0) out.push({ n, wire, v: varint() });
    else if (wire === 1) {
      out.push({ n, wire, v: buf.subarray(i, i + 8) });
      i += 8;
    } else if (wire === 2) {
      const len = varint();
      out.push({ n, wire, v: buf.subarray(i, i + len) });
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}
const one = (fs: Field[], n: number) => fs.find((f) => f.n === n)?.v as Buffer;
const str = (fs: Field[], n: number) => one(fs, n)?.toString('utf8');

test('encodes a Swagger document as gnostic openapi_v2.Document', () => {
  const doc = {
    swagger: '2.0',
    info: { title: 'Kubernetes', version: 'v1.30.0' },
    paths: {
      '/api/v1/namespaces/{namespace}/configmaps/{name}': {
        patch: {
          operationId: 'patchCoreV1NamespacedConfigMap',
          parameters: [{ name: 'fieldValidation', in: 'query', type: 'string', uniqueItems: true }],
          responses: { '200': { description: 'OK', schema: { $ref: '#/definitions/io.k8s.api.core.v1.ConfigMap' } } },
          'x-kubernetes-group-version-kind': { group: '', version: 'v1', kind: 'ConfigMap' },
        },
        parameters: [{ name: 'name', in: 'path', required: true, type: 'string' }],
      },
    },
    definitions: {
      'io.k8s.api.core.v1.ConfigMap': {
        type: 'object',
        properties: {
          data: { type: 'object', additionalProperties: { type: 'string' } },
          immutable: { type: 'boolean' },
        },
        'x-kubernetes-group-version-kind': [{ group: '', kind: 'ConfigMap', version: 'v1' }],
      },
    },
  };
  const top = fields(encodeOpenAPIV2(doc));
  assert.equal(str(top, 1), '2.0');
  const info = fields(one(top, 2));
  assert.equal(str(info, 1), 'Kubernetes');
  assert.equal(str(info, 2), 'v1.30.0');

  // paths: NamedPathItem (2) { name 1, PathItem 2 { patch 8, parameters 9 } }
  const named = fields(one(fields(one(top, 8)), 2));
  assert.equal(str(named, 1), '/api/v1/namespaces/{namespace}/configmaps/{name}');
  const item = fields(one(named, 2));
  const op = fields(one(item, 8));
  assert.equal(str(op, 5), 'patchCoreV1NamespacedConfigMap');
  // ParametersItem 1 -> Parameter 2 (non-body) -> query 3 -> name 4
  const query = fields(one(fields(one(fields(one(op, 8)), 1)), 2));
  const qs = fields(one(query, 3));
  assert.equal(str(qs, 4), 'fieldValidation');
  assert.equal(str(qs, 2), 'query');
  assert.equal(one(qs, 20), 1); // unique_items, after allow_empty_value
  const pathParam = fields(one(fields(one(fields(one(fields(one(item, 9)), 1)), 2)), 4));
  assert.equal(str(pathParam, 4), 'name');
  assert.equal(one(pathParam, 1), 1);
  const ext = fields(one(op, 13));
  assert.equal(str(ext, 1), 'x-kubernetes-group-version-kind');
  assert.deepEqual(JSON.parse(str(fields(one(ext, 2)), 2)), { group: '', version: 'v1', kind: 'ConfigMap' });
  const resp = fields(one(fields(one(op, 9)), 1));
  assert.equal(str(resp, 1), '200');

  // definitions: NamedSchema { name, Schema { type 22, properties 25, vendor_extension 31 } }
  const def = fields(one(fields(one(top, 9)), 1));
  assert.equal(str(def, 1), 'io.k8s.api.core.v1.ConfigMap');
  const schema = fields(one(def, 2));
  assert.equal(str(fields(one(schema, 22)), 1), 'object');
  const props = fields(one(schema, 25)).map((f) => fields(f.v as Buffer));
  assert.deepEqual(
    props.map((p) => str(p, 1)),
    ['data', 'immutable'],
  );
  const data = fields(one(props[0], 2));
  const additional = fields(one(data, 21));
  assert.equal(str(fields(one(fields(one(additional, 1)), 22)), 1), 'string');
});

test('only protobuf Accept headers select it', () => {
  assert.equal(acceptsOpenAPIV2Protobuf('application/com.github.proto-openapi.spec.v2@v1.0+protobuf'), true);
  assert.equal(acceptsOpenAPIV2Protobuf('application/json'), false);
  assert.equal(acceptsOpenAPIV2Protobuf(undefined), false);
});
