// Integer fields decode as upstream's Go structs decode them: int32 and int64 ranges, no
// fractions, no strings; the 400 names the struct, the field path and the Go type, and quotes the
// number as the body wrote it. Also the helpers around it: ParseInt for query parameters, the
// scale paths of custom resources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BuiltinFieldSchema, TypeMismatch, fitsInteger } from '../../src/apiserver/fieldschema.js';
import { literalAt } from '../../src/apiserver/jsonliteral.js';
import { parseInt64Param as parseInt64 } from '../../src/apiserver/options.js';
import { scaleReplicas } from '../../src/apiserver/scale.js';
import { validateCustomScale } from '../../src/apiserver/crd/scalevalidation.js';
import { ApiError } from '../../src/machinery/errors.js';

const schema = new BuiltinFieldSchema();

/** The decode error for obj, or 'ok'. */
function decode(group: string, version: string, kind: string, obj: any, raw?: string): string {
  try {
    schema.prune(group, version, kind, obj);
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof TypeMismatch, String(err));
    return raw ? err.quoting(raw) : err.message;
  }
}

/** A body whose field at `path` holds `value`. */
function withField(path: string[], value: unknown): any {
  const root: any = {};
  let cur = root;
  for (const p of path.slice(0, -1)) cur = cur[p] = {};
  cur[path[path.length - 1]] = value;
  return root;
}

const INT32_FIELDS = [
  { gvk: ['apps', 'v1', 'ReplicaSet'], path: ['spec', 'replicas'], struct: 'ReplicaSetSpec' },
  { gvk: ['apps', 'v1', 'Deployment'], path: ['spec', 'progressDeadlineSeconds'], struct: 'DeploymentSpec' },
  { gvk: ['batch', 'v1', 'Job'], path: ['spec', 'parallelism'], struct: 'JobSpec' },
  {
    gvk: ['autoscaling', 'v2', 'HorizontalPodAutoscaler'],
    path: ['spec', 'maxReplicas'],
    struct: 'HorizontalPodAutoscalerSpec',
  },
] as const;

const INT64_FIELDS = [
  { gvk: ['', 'v1', 'Pod'], path: ['spec', 'activeDeadlineSeconds'], struct: 'PodSpec' },
  { gvk: ['batch', 'v1', 'Job'], path: ['spec', 'activeDeadlineSeconds'], struct: 'JobSpec' },
  { gvk: ['', 'v1', 'ConfigMap'], path: ['metadata', 'generation'], struct: 'ObjectMeta' },
] as const;

test('int32 fields: -2^31..2^31-1 accepted, everything else refused with the decoder text', () => {
  for (const f of INT32_FIELDS) {
    const [g, v, k] = f.gvk;
    const field = `${f.struct}.${f.path.join('.')}`;
    for (const ok of [0, -0, 1, 2 ** 31 - 1, -(2 ** 31)])
      assert.equal(decode(g, v, k, withField([...f.path], ok)), 'ok', `${field} = ${ok}`);
    for (const bad of [2 ** 31, -(2 ** 31) - 1, 2 ** 53, 2 ** 63, 1.2e29, 1e308, 1.5, -0.5]) {
      assert.equal(
        decode(g, v, k, withField([...f.path], bad)),
        `${k} in version "${v}" cannot be handled as a ${k}: json: cannot unmarshal number ${bad} into Go struct field ${field} of type int32`,
      );
    }
    assert.equal(
      decode(g, v, k, withField([...f.path], '1')),
      `${k} in version "${v}" cannot be handled as a ${k}: json: cannot unmarshal string into Go struct field ${field} of type int32`,
    );
    assert.equal(
      decode(g, v, k, withField([...f.path], true)),
      `${k} in version "${v}" cannot be handled as a ${k}: json: cannot unmarshal bool into Go struct field ${field} of type int32`,
    );
    // null means unset.
    assert.equal(decode(g, v, k, withField([...f.path], null)), 'ok');
  }
});

test('int64 fields: up to 2^63 exclusive (2^63-1 is not a double), -2^63 included', () => {
  for (const f of INT64_FIELDS) {
    const [g, v, k] = f.gvk;
    const field = `${f.struct}.${f.path.join('.')}`;
    for (const ok of [0, -0, 2 ** 31, 2 ** 53, 2 ** 62, 2 ** 63 - 2 ** 10, -(2 ** 63)])
      assert.equal(decode(g, v, k, withField([...f.path], ok)), 'ok', `${field} = ${ok}`);
    for (const bad of [2 ** 63, -(2 ** 63) - 2 ** 11, 1.2e29, 1e308, 1.5, Infinity]) {
      assert.equal(
        decode(g, v, k, withField([...f.path], bad)),
        `${k} in version "${v}" cannot be handled as a ${k}: json: cannot unmarshal number ${bad} into Go struct field ${field} of type int64`,
      );
    }
    assert.match(
      decode(g, v, k, withField([...f.path], '1')),
      /cannot unmarshal string into Go struct field .* of type int64$/,
    );
  }
  // JSON.parse reads 9223372036854775807 (valid in Go) as 2^63: refused rather than stored as a number Go clients cannot read.
  assert.equal(JSON.parse('9223372036854775807'), 2 ** 63);
  assert.equal(fitsInteger(JSON.parse('9223372036854775807'), 'int64'), false);
  assert.equal(fitsInteger(JSON.parse('-9223372036854775808'), 'int64'), true);
});

test('the struct named is the innermost one; array indices and map keys are not in the field path', () => {
  const rs = {
    spec: { template: { spec: { containers: [{ name: 'a' }, { name: 'b', ports: [{ containerPort: 70000.5 }] }] } } },
  };
  assert.equal(
    decode('apps', 'v1', 'ReplicaSet', rs),
    'ReplicaSet in version "v1" cannot be handled as a ReplicaSet: json: cannot unmarshal number 70000.5 into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32',
  );
  assert.equal(
    decode('', 'v1', 'Pod', { metadata: { labels: { a: 1 } } }),
    'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string',
  );
  assert.equal(
    decode('apps', 'v1', 'Deployment', { spec: 3 }),
    'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal number into Go struct field Deployment.spec of type v1.DeploymentSpec',
  );
  assert.equal(
    decode('', 'v1', 'Pod', { spec: { containers: {} } }),
    'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container',
  );
});

test('the message quotes the number literal of the request body', () => {
  const cases: [string, string][] = [
    ['{"spec":{"replicas":1e308}}', '1e308'],
    ['{"spec":{"replicas":1.2E29}}', '1.2E29'],
    ['{"spec":{"replicas":9223372036854775808}}', '9223372036854775808'],
    ['{"spec" : {"selector":{"matchLabels":{"a":"}"}}, "replicas" : 2147483648 }}', '2147483648'],
    // The last of duplicate keys is the one decoded.
    ['{"spec":{"replicas":1},"spec":{"replicas":-2147483649}}', '-2147483649'],
  ];
  for (const [raw, literal] of cases) {
    assert.equal(
      decode('apps', 'v1', 'ReplicaSet', JSON.parse(raw), raw),
      `ReplicaSet in version "v1" cannot be handled as a ReplicaSet: json: cannot unmarshal number ${literal} into Go struct field ReplicaSetSpec.spec.replicas of type int32`,
    );
  }
  assert.equal(literalAt('{"a":[1, {"b" :"x\\"y"}, 3.50]}', ['a', 2]), '3.50');
  assert.equal(literalAt('{"a":[1, {"b" :"x\\"y"}, 3.50]}', ['a', 1, 'b']), '"x\\"y"');
  assert.equal(literalAt('{"a":1}', ['b']), undefined);
  assert.equal(literalAt('not json', ['a']), undefined);
});

test('Scale bodies: spec.replicas must be an int32, then non-negative', () => {
  const status = (fn: () => unknown) => {
    try {
      fn();
      return 0;
    } catch (err) {
      return (err as ApiError).code;
    }
  };
  assert.equal(scaleReplicas({ spec: { replicas: 2 ** 31 - 1 } }, 'x'), 2 ** 31 - 1);
  assert.equal(scaleReplicas({ spec: {} }, 'x'), undefined);
  assert.throws(
    () => scaleReplicas({ spec: { replicas: 2 ** 31 } }, 'x'),
    /^.*Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal number 2147483648 into Go struct field ScaleSpec.spec.replicas of type int32$/,
  );
  assert.equal(
    status(() => scaleReplicas({ spec: { replicas: 1e308 } }, 'x')),
    400,
  );
  assert.equal(
    status(() => scaleReplicas({ spec: { replicas: 1.5 } }, 'x')),
    400,
  );
  assert.equal(
    status(() => scaleReplicas({ spec: { replicas: '3' } }, 'x')),
    400,
  );
  assert.equal(
    status(() => scaleReplicas({ spec: { replicas: -1 } }, 'x')),
    422,
  );
});

test('custom resource scale paths: int64 within 0..2^31-1, as ValidateScaleSpec/Status', () => {
  const scale = {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.status.selector',
  };
  const details = (obj: any) => validateCustomScale(obj, scale).map((e) => `${e.field}: ${e.detail}`);
  assert.deepEqual(details({ spec: { replicas: 2 ** 31 - 1 }, status: { replicas: 0, selector: 'a=b' } }), []);
  assert.deepEqual(details({}), []);
  assert.deepEqual(details({ spec: { replicas: 2 ** 31 } }), [
    '.spec.replicas: Invalid value: 2147483648: should be less than or equal to 2147483647',
  ]);
  assert.deepEqual(details({ spec: { replicas: -1 } }), [
    '.spec.replicas: Invalid value: -1: should be a non-negative integer',
  ]);
  assert.deepEqual(details({ spec: { replicas: 1e20 } }), [
    '.spec.replicas: Invalid value: 0: .spec.replicas accessor error: 1e+20 is of the type float64, expected int64',
  ]);
  assert.deepEqual(details({ spec: { replicas: 1.5 } }), [
    '.spec.replicas: Invalid value: 0: .spec.replicas accessor error: 1.5 is of the type float64, expected int64',
  ]);
  assert.deepEqual(details({ spec: { replicas: '3' } }), [
    '.spec.replicas: Invalid value: 0: .spec.replicas accessor error: 3 is of the type string, expected int64',
  ]);
  assert.deepEqual(details({ spec: 'x' }), [
    '.spec.replicas: Invalid value: 0: .spec accessor error: x is of the type string, expected map[string]interface{}',
  ]);
  assert.deepEqual(details({ status: { replicas: 2 ** 40, selector: 7 } }), [
    '.status.replicas: Invalid value: 1099511627776: should be less than or equal to 2147483647',
    '.status.selector: Invalid value: "": .status.selector accessor error: 7 is of the type int64, expected string',
  ]);
});

test('integer query parameters parse as strconv.ParseInt(s, 10, 64)', () => {
  assert.equal(parseInt64('30'), 30);
  assert.equal(parseInt64('+5'), 5);
  assert.equal(parseInt64('-9223372036854775808'), -(2 ** 63));
  const message = (text: string) => {
    try {
      parseInt64(text);
      return 'ok';
    } catch (err) {
      assert.equal((err as ApiError).code, 400);
      return (err as Error).message;
    }
  };
  assert.equal(message('0.1s'), 'strconv.ParseInt: parsing "0.1s": invalid syntax');
  assert.equal(message('1e3'), 'strconv.ParseInt: parsing "1e3": invalid syntax');
  assert.equal(message(''), 'strconv.ParseInt: parsing "": invalid syntax');
  assert.equal(message('9223372036854775808'), 'strconv.ParseInt: parsing "9223372036854775808": value out of range');
});
