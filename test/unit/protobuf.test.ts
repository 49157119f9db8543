import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ProtobufError,
  decodeEnvelope,
  decodeMessage,
  encodeEnvelope,
  encodeMessage,
  formatGoDuration,
  hasMessage,
  messageFor,
  parseGoDuration,
} from '../../src/machinery/protobuf/index.js';
import { fillNilFieldsOf } from '../../src/machinery/protobuf/nilfields.js';
import { MESSAGES } from '../../src/machinery/protobuf/wiretable.js';
import type { MessageRow } from '../../src/machinery/protobuf/types.js';
import { builtinResources } from '../../src/api/builtin.js';
import { watchFrame } from '../../src/apiserver/protobuf.js';
import { negotiate } from '../../src/apiserver/http.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const str = (s: string) => Buffer.from(s).toString('hex');
/** A length-delimited field: tag byte, one-byte length, payload (hex). */
const ld = (tag: number, payloadHex: string) =>
  tag.toString(16).padStart(2, '0') + (payloadHex.length / 2).toString(16).padStart(2, '0') + payloadHex;

// ---- byte-level checks, derived by hand from the wire format -----------------------------------

// ObjectMeta as Go writes it: every value field (name, generateName, namespace, selfLink, uid,
// resourceVersion as strings; generation varint; creationTimestamp an empty message for the zero
// time), pointers and empty lists/maps left out.
const objectMeta = (name: string, ns: string) =>
  ld(0x0a, str(name)) + '1200' + ld(0x1a, str(ns)) + '2200' + '2a00' + '3200' + '3800' + '4200';

const envelopeHex = (apiVersion: string, kind: string, rawHex: string) =>
  str('k8s\0') + ld(0x0a, ld(0x0a, str(apiVersion)) + ld(0x12, str(kind))) + ld(0x12, rawHex) + '1a00' + '2200';

test('a ConfigMap encodes to the bytes upstream writes', () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'ns' }, data: { k: 'v' } };
  const raw = ld(0x0a, objectMeta('cfg', 'ns')) + ld(0x12, ld(0x0a, str('k')) + ld(0x12, str('v')));
  assert.equal(hex(encodeEnvelope(cm)), envelopeHex('v1', 'ConfigMap', raw));
  assert.deepEqual(decodeEnvelope(Buffer.from(envelopeHex('v1', 'ConfigMap', raw), 'hex')), cm);
});

test('map entries are written sorted by key; Secret data is raw bytes on the wire, base64 in JSON', () => {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's', namespace: 'n' },
    data: { z: Buffer.from([0x00, 0xff]).toString('base64'), a: '' },
    type: 'Opaque',
  };
  const raw =
    ld(0x0a, objectMeta('s', 'n')) +
    ld(0x12, ld(0x0a, str('a')) + '1200') + // "a": empty bytes
    ld(0x12, ld(0x0a, str('z')) + '120200ff') +
    ld(0x1a, str('Opaque'));
  assert.equal(hex(encodeEnvelope(secret)), envelopeHex('v1', 'Secret', raw));
  assert.deepEqual(decodeEnvelope(encodeEnvelope(secret)), secret);
});

test('IntOrString, Quantity, Time, MicroTime and Duration have their own wire forms', () => {
  // IntOrString: type (0 int, 1 string), intVal, strVal, all written.
  const ru = { maxSurge: '25%', maxUnavailable: 1 };
  assert.equal(
    hex(encodeMessage('apps.v1.RollingUpdateDeployment', ru)),
    ld(0x0a, '0800' + '1001' + '1a00') + ld(0x12, '0801' + '1000' + ld(0x1a, str('25%'))),
  );
  assert.deepEqual(
    decodeMessage('apps.v1.RollingUpdateDeployment', encodeMessage('apps.v1.RollingUpdateDeployment', ru)),
    ru,
  );
  // Quantity: its canonical string in field 1.
  assert.equal(hex(encodeMessage('resource.Quantity', '100m')), ld(0x0a, str('100m')));
  // Time: seconds only (upstream drops nanoseconds), nanos written as 0.
  assert.equal(hex(encodeMessage('meta.v1.Time', '1970-01-01T00:01:40Z')), '0864' + '1000');
  assert.equal(decodeMessage('meta.v1.Time', Buffer.from('08641000', 'hex')), '1970-01-01T00:01:40Z');
  // MicroTime keeps microseconds.
  const micro = '2024-05-06T07:08:09.123456Z';
  assert.equal(decodeMessage('meta.v1.MicroTime', encodeMessage('meta.v1.MicroTime', micro)), micro);
  // Duration: nanoseconds; Go's text in JSON.
  assert.equal(hex(encodeMessage('meta.v1.Duration', '1s')), '088094ebdc03');
  assert.equal(decodeMessage('meta.v1.Duration', Buffer.from('088094ebdc03', 'hex')), '1s');
});

test('Go duration text', () => {
  for (const [text, ns, back] of [
    ['1h', 3600e9, '1h0m0s'],
    ['90s', 90e9, '1m30s'],
    ['1.5s', 1.5e9, '1.5s'],
    ['500ms', 5e8, '500ms'],
    ['0', 0, '0s'],
    ['-2m', -120e9, '-2m0s'],
    ['1us', 1e3, '1µs'],
    ['7ns', 7, '7ns'],
  ] as const) {
    assert.equal(parseGoDuration(text), ns, text);
    assert.equal(formatGoDuration(ns), back, text);
  }
  assert.throws(() => parseGoDuration('5 minutes'));
  assert.throws(() => parseGoDuration(''));
});

test('a Pod encodes to the bytes upstream writes: value fields even when zero, pointers only when set', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'n' },
    spec: { containers: [{ name: 'c', image: 'i' }] },
  };
  // Container: name, image, then its value fields in number order: workingDir (5), resources (8,
  // an empty ResourceRequirements), terminationMessagePath (13), imagePullPolicy (14), stdin (16),
  // stdinOnce (17), tty (18), terminationMessagePolicy (20).
  const container =
    ld(0x0a, str('c')) +
    ld(0x12, str('i')) +
    '2a00' +
    '4200' +
    '6a00' +
    '7200' +
    '800100' +
    '880100' +
    '900100' +
    'a20100';
  // PodSpec: containers (2), restartPolicy (3), dnsPolicy (6), serviceAccountName (8),
  // serviceAccount (9), nodeName (10), hostNetwork/PID/IPC (11-13), hostname (16), subdomain (17),
  // schedulerName (19), priorityClassName (24); pointers such as terminationGracePeriodSeconds absent.
  const spec =
    ld(0x12, container) +
    '1a00' +
    '3200' +
    '4200' +
    '4a00' +
    '5200' +
    '5800' +
    '6000' +
    '6800' +
    '820100' +
    '8a0100' +
    '9a0100' +
    'c20100';
  // PodStatus (a value field of Pod, written though unset): phase (1), message (3), reason (4),
  // hostIP (5), podIP (6), qosClass (9), nominatedNodeName (11), resize (14), observedGeneration (17).
  const status = '0a00' + '1a00' + '2200' + '2a00' + '3200' + '4a00' + '5a00' + '7200' + '880100';
  const raw = ld(0x0a, objectMeta('p', 'n')) + ld(0x12, spec) + ld(0x1a, status);
  assert.equal(hex(encodeEnvelope(pod)), envelopeHex('v1', 'Pod', raw));

  const decoded = decodeEnvelope(Buffer.from(envelopeHex('v1', 'Pod', raw), 'hex'));
  // Upstream's JSON of that Pod: zero value fields with omitempty left out, empty structs kept.
  assert.deepEqual(decoded, { ...pod, spec: { containers: [{ name: 'c', image: 'i', resources: {} }] }, status: {} });
  // A pointer set to zero is written, and read back.
  const grace = decodeEnvelope(encodeEnvelope({ ...pod, spec: { ...pod.spec, terminationGracePeriodSeconds: 0 } }));
  assert.equal(grace.spec.terminationGracePeriodSeconds, 0);
  assert.equal(grace.spec.activeDeadlineSeconds, undefined);
});

// ---- round trips of every built-in kind ---------------------------------------------------------

const SAMPLE_DEPTH = 4;

/** A fully populated JSON value of a message: every field set to a non-zero value. */
function sample(name: string, depth: number, seed: { n: number }): unknown {
  const n = ++seed.n;
  switch (name) {
    case 'meta.v1.Time':
      return new Date(Date.UTC(2020, 0, 1) + n * 1000).toISOString().replace('.000Z', 'Z');
    case 'meta.v1.MicroTime':
      return `2020-01-01T00:00:${String(n % 60).padStart(2, '0')}.123456Z`;
    case 'meta.v1.Duration':
      return '1m30s';
    case 'resource.Quantity':
      return `${n}Mi`;
    case 'intstr.IntOrString':
      return n % 2 ? n : `${n}%`;
    case 'runtime.RawExtension':
      return { apiVersion: 'v1', kind: 'Thing', n };
    case 'meta.v1.FieldsV1':
      return { 'f:metadata': { 'f:labels': {} } };
    case 'apiextensions.v1.JSON':
      return { any: [n, 'json'] };
    case 'apiextensions.v1.JSONSchemaPropsOrArray':
      return n % 2 ? [{ type: 'string' }, { type: 'integer' }] : { type: 'number' };
    case 'apiextensions.v1.JSONSchemaPropsOrBool':
      return n % 2 ? true : { type: 'object' };
    case 'apiextensions.v1.JSONSchemaPropsOrStringArray':
      return ['a', 'b'];
  }
  const row: MessageRow = MESSAGES[name];
  if (row.w) return [`item${n}`];
  const out: Record<string, unknown> = {};
  for (const [json, , type, flags] of row.f) {
    const map = /^map<\w+,(.+)>$/.exec(type);
    const valueType = map ? map[1] : type;
    const isMessage = hasMessage(valueType);
    const optional = flags.includes('p') || flags.includes('r') || !!map;
    if (isMessage && optional && depth > SAMPLE_DEPTH) continue;
    const one = () => (isMessage ? sample(valueType, depth + 1, seed) : scalarSample(valueType, json, seed));
    let v: unknown;
    if (map) v = { k1: one(), k2: one() };
    else if (flags.includes('r')) v = [one(), one()];
    else v = one();
    if (flags.includes('i')) Object.assign(out, v);
    else out[json] = v;
  }
  return out;
}

function scalarSample(type: string, json: string, seed: { n: number }): unknown {
  const n = ++seed.n;
  switch (type) {
    case 'string':
      return `${json}-${n}`;
    case 'bytes':
      return Buffer.from(`bytes ${n}`).toString('base64');
    case 'bool':
      return true;
    case 'double':
    case 'float':
      return n + 0.5;
    case 'int64':
      return 2 ** 40 + n;
    default:
      return n;
  }
}

const kinds = new Map<string, { apiVersion: string; kind: string }>();
for (const def of builtinResources()) {
  for (const v of def.versions ?? []) {
    const apiVersion = def.group ? `${def.group}/${v.name}` : v.name;
    kinds.set(`${apiVersion} ${def.kind}`, { apiVersion, kind: def.kind });
    kinds.set(`${apiVersion} ${def.listKind ?? `${def.kind}List`}`, {
      apiVersion,
      kind: def.listKind ?? `${def.kind}List`,
    });
  }
}

// metrics.k8s.io (metrics-server's) and apiregistration.k8s.io (kube-aggregator's) included: their
// messages come from kubernetes/metrics' and kube-aggregator's generated.proto.
test('every built-in kind (and its list) has a protobuf message', () => {
  const missing = [...kinds.values()].filter((k) => !messageFor(k.apiVersion, k.kind));
  const reviewOnly = new Set([
    'SelfSubjectReviewList',
    'LocalSubjectAccessReviewList',
    'SelfSubjectAccessReviewList',
    'SelfSubjectRulesReviewList',
    'SubjectAccessReviewList',
  ]);
  assert.deepEqual(
    missing.filter((k) => !reviewOnly.has(k.kind)),
    [],
  );
});

test('round trip of every built-in kind, every field populated: JSON -> protobuf -> JSON', () => {
  let count = 0;
  for (const { apiVersion, kind } of kinds.values()) {
    const name = messageFor(apiVersion, kind);
    if (!name) continue;
    const obj = { apiVersion, kind, ...(sample(name, 0, { n: 0 }) as object) };
    const bytes = encodeEnvelope(obj);
    // Beyond the sample's depth, lists Go writes as null when nil come back as null.
    const expected = structuredClone(obj);
    fillNilFieldsOf(expected, name);
    assert.deepEqual(decodeEnvelope(bytes), expected, `${apiVersion} ${kind}`);
    // Stable: encoding the decoded object again gives the same bytes.
    assert.deepEqual(encodeEnvelope(decodeEnvelope(bytes)), bytes, `${apiVersion} ${kind} bytes`);
    count++;
  }
  assert.ok(count > 80, `${count} kinds`);
});

test('a realistic Deployment, CRD and Lease round-trip', () => {
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'default',
      uid: 'u-1',
      resourceVersion: '42',
      generation: 3,
      creationTimestamp: '2024-01-02T03:04:05Z',
      labels: { app: 'web' },
      annotations: { 'deployment.kubernetes.io/revision': '1' },
      managedFields: [
        {
          manager: 'kubectl',
          operation: 'Update',
          apiVersion: 'apps/v1',
          time: '2024-01-02T03:04:05Z',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        },
      ],
    },
    spec: {
      replicas: 0,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: {
          containers: [
            {
              name: 'nginx',
              image: 'nginx:1.25',
              ports: [{ containerPort: 80, protocol: 'TCP' }],
              resources: { limits: { cpu: '500m', memory: '128Mi' }, requests: { cpu: '0' } },
              readinessProbe: { httpGet: { path: '/', port: 'http', scheme: 'HTTP' }, periodSeconds: 10 },
              env: [
                { name: 'A', value: 'a' },
                { name: 'B', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } },
              ],
              terminationMessagePath: '/dev/termination-log',
              terminationMessagePolicy: 'File',
              imagePullPolicy: 'IfNotPresent',
            },
          ],
          restartPolicy: 'Always',
          terminationGracePeriodSeconds: 30,
          dnsPolicy: 'ClusterFirst',
          securityContext: {},
          schedulerName: 'default-scheduler',
        },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: 1 } },
      revisionHistoryLimit: 10,
      progressDeadlineSeconds: 600,
    },
    status: {
      observedGeneration: 3,
      replicas: 2,
      conditions: [
        {
          type: 'Available',
          status: 'True',
          lastUpdateTime: '2024-01-02T03:04:05Z',
          lastTransitionTime: '2024-01-02T03:04:05Z',
          reason: 'MinimumReplicasAvailable',
          message: 'ok',
        },
      ],
    },
  };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(deployment)), deployment);

  const crd = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'widgets.example.com' },
    spec: {
      group: 'example.com',
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: 'object',
              properties: {
                spec: {
                  type: 'object',
                  required: ['size'],
                  'x-kubernetes-preserve-unknown-fields': false,
                  properties: {
                    size: { type: 'integer', minimum: 0, maximum: 10.5, default: 3 },
                    mode: { type: 'string', enum: ['a', 'b'] },
                    tags: { type: 'array', items: { type: 'string' }, 'x-kubernetes-list-type': 'set' },
                    extra: { type: 'object', additionalProperties: { type: 'string' } },
                    free: { type: 'object', additionalProperties: false },
                  },
                },
              },
            },
          },
          additionalPrinterColumns: [{ name: 'Size', type: 'integer', jsonPath: '.spec.size' }],
          subresources: { status: {}, scale: { specReplicasPath: '.spec.size', statusReplicasPath: '.status.size' } },
        },
      ],
      conversion: { strategy: 'None' },
    },
    status: { acceptedNames: { plural: 'widgets', kind: 'Widget' }, storedVersions: ['v1'] },
  };
  const crdBack = decodeEnvelope(encodeEnvelope(crd));
  assert.deepEqual(crdBack.spec, crd.spec);
  // status.conditions is a Go list without omitempty: nil from the wire, so null in JSON.
  assert.deepEqual(crdBack.status, { ...crd.status, conditions: null });

  const lease = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'l', namespace: 'kube-system' },
    spec: {
      holderIdentity: 'me',
      leaseDurationSeconds: 15,
      renewTime: '2024-01-02T03:04:05.123456Z',
      leaseTransitions: 0,
    },
  };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(lease)), lease);
});

test('edge values: present zero pointers survive; empty lists and maps read back absent, as upstream JSON omits them', () => {
  const cm = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c', labels: {}, finalizers: [] },
    data: {},
    immutable: false,
  };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(cm)), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c' },
    immutable: false,
  });
  // A value field without omitempty shows its zero (containerPort: 0, name: "").
  const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 0 }] } };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(svc)).spec.ports, [{ port: 0, targetPort: 0 }]);
  // Empty strings of omitempty fields are left out; a value of "" in a map survives.
  const cm2 = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '', annotations: { a: '' } } };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(cm2)).metadata, { annotations: { a: '' } });
});

test('fields of unknown numbers are dropped, as upstream unmarshalling drops them', () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'b' } };
  const raw = Buffer.from(encodeMessage('core.v1.ConfigMap', cm));
  // field 99 (varint), field 100 (bytes), field 101 (fixed32), field 102 (fixed64)
  const extra = Buffer.from('98060a' + 'a20603616263' + 'ad0601020304' + 'b1060102030405060708', 'hex');
  const decoded = decodeMessage('core.v1.ConfigMap', Buffer.concat([raw, extra]));
  assert.deepEqual(decoded, { metadata: { name: 'c' }, data: { a: 'b' } });
});

test('embedded objects in RawExtension are read from JSON or from a nested protobuf envelope', () => {
  const inner = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'inner' } };
  const event = { type: 'ADDED', object: inner };
  const frame = watchFrame(event);
  assert.equal(frame.readUInt32BE(0), frame.length - 4);
  assert.deepEqual(decodeMessage('meta.v1.WatchEvent', frame.subarray(4)), event);
  const rev = {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: { name: 'r' },
    data: { spec: { template: {} } },
    revision: 1,
  };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(rev)), rev);
});

test('Status, PartialObjectMetadataList and DeleteOptions (meta.k8s.io kinds) encode', () => {
  const status = {
    apiVersion: 'v1',
    kind: 'Status',
    metadata: {},
    status: 'Failure',
    message: 'nope',
    reason: 'NotFound',
    details: { name: 'x', kind: 'pods' },
    code: 404,
  };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(status)), status);
  const list = {
    apiVersion: 'meta.k8s.io/v1',
    kind: 'PartialObjectMetadataList',
    metadata: { resourceVersion: '5' },
    items: [{ apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: { name: 'a' } }],
  };
  const back = decodeEnvelope(encodeEnvelope(list));
  assert.deepEqual(back.items[0].metadata, { name: 'a' });
  const del = { apiVersion: 'apps/v1', kind: 'DeleteOptions', propagationPolicy: 'Foreground', gracePeriodSeconds: 0 };
  assert.deepEqual(decodeEnvelope(encodeEnvelope(del)), del);
  assert.equal(messageFor('example.com/v1', 'Widget'), undefined, 'custom resources have no protobuf form');
  assert.equal(messageFor('meta.k8s.io/v1', 'Table'), undefined, 'Tables have no protobuf form upstream');
});

// ---- hostile input -------------------------------------------------------------------------------

function decodeOrProtobufError(bytes: Buffer): void {
  try {
    decodeEnvelope(bytes);
  } catch (err) {
    assert.ok(err instanceof ProtobufError, `${(err as Error).constructor.name}: ${(err as Error).message}`);
  }
}

test('truncated input at every length ends in a ProtobufError or a valid object, never another failure', () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'n', labels: { a: 'b' } },
    spec: { containers: [{ name: 'c', image: 'i', resources: { limits: { cpu: '1' } } }] },
  };
  const bytes = encodeEnvelope(pod);
  for (let i = 0; i < bytes.length; i++) decodeOrProtobufError(bytes.subarray(0, i));
  assert.throws(() => decodeEnvelope(bytes.subarray(0, bytes.length - 30)), ProtobufError);
});

test('random mutations end in a ProtobufError or a valid object, quickly', () => {
  const dep = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', labels: { a: 'b' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { a: 'b' } },
      template: { spec: { containers: [{ name: 'c', image: 'i' }] } },
    },
  };
  const bytes = encodeEnvelope(dep);
  let state = 12345;
  const rand = (n: number) => (state = (state * 1103515245 + 12345) & 0x7fffffff) % n;
  const started = Date.now();
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(bytes);
    for (let j = 0, k = 1 + rand(4); j < k; j++) b[4 + rand(b.length - 4)] = rand(256);
    decodeOrProtobufError(b);
  }
  assert.ok(Date.now() - started < 10_000);
});

test('huge declared lengths, overlong varints, bad wire types and deep nesting are rejected', () => {
  const prefix = Buffer.from(str('k8s\0'), 'hex');
  // Unknown.raw declaring 4 GiB.
  assert.throws(() => decodeEnvelope(Buffer.concat([prefix, Buffer.from('12ffffffff0f00', 'hex')])), /unexpected EOF/);
  assert.throws(
    () => decodeEnvelope(Buffer.concat([prefix, Buffer.from('08ffffffffffffffffffff01', 'hex')])),
    /overflow/,
  );
  assert.throws(() => decodeEnvelope(Buffer.from('not protobuf')), /prefix/);
  assert.throws(() => decodeMessage('core.v1.ConfigMap', Buffer.from('0801', 'hex')), /wrong wireType/);
  // JSONSchemaProps.not (field 28) nested 300 deep.
  let nested: Buffer = Buffer.alloc(0);
  for (let i = 0; i < 300; i++)
    nested = Buffer.concat([Buffer.from([0xe2, 0x01]), nestedLength(nested.length), nested]);
  assert.throws(() => decodeMessage('apiextensions.v1.JSONSchemaProps', nested), /nesting/);
  // WatchEvents whose RawExtension holds another WatchEvent envelope, 300 deep.
  let frame = encodeEnvelope({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
  for (let i = 0; i < 300; i++) frame = watchEventEnvelope(frame);
  assert.throws(() => decodeEnvelope(frame), /nesting/);
});

function nestedLength(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** A WatchEvent envelope whose object is the given (already encoded) envelope. */
function watchEventEnvelope(inner: Buffer): Buffer {
  const rawExtension = Buffer.concat([Buffer.from([0x0a]), nestedLength(inner.length), inner]);
  const event = Buffer.concat([
    Buffer.from('0a0141', 'hex'),
    Buffer.from([0x12]),
    nestedLength(rawExtension.length),
    rawExtension,
  ]);
  const typeMeta = Buffer.from(ld(0x0a, ld(0x0a, str('v1')) + ld(0x12, str('WatchEvent'))), 'hex');
  return Buffer.concat([
    Buffer.from(str('k8s\0'), 'hex'),
    typeMeta,
    Buffer.from([0x12]),
    nestedLength(event.length),
    event,
  ]);
}

// ---- negotiation ---------------------------------------------------------------------------------

test('Accept negotiation follows upstream: q-values, serializer order, protobuf only where offered', () => {
  const builtin = { protobuf: 'objects' as const };
  const custom = { protobuf: 'metadata' as const };
  assert.equal(negotiate('application/vnd.kubernetes.protobuf,application/json', builtin).protobuf, true);
  assert.equal(negotiate('application/vnd.kubernetes.protobuf,application/json', custom).protobuf, false);
  assert.equal(negotiate('application/vnd.kubernetes.protobuf;q=0.5,application/json', builtin).protobuf, false);
  assert.equal(negotiate('application/json;q=0.5,application/vnd.kubernetes.protobuf', builtin).protobuf, true);
  assert.equal(negotiate('*/*', builtin).protobuf, false);
  assert.equal(negotiate('application/*', builtin).yaml, false);
  assert.equal(negotiate('application/yaml;q=0.9,*/*;q=0.8', builtin).yaml, true);
  assert.throws(() => negotiate('application/vnd.kubernetes.protobuf', custom), /406|only the following media types/);
  assert.throws(
    () => negotiate('application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io', builtin),
    /only the following/,
  );
  const partial = negotiate(
    'application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json',
    custom,
  );
  assert.deepEqual([partial.kind, partial.protobuf], ['partial', true]);
  assert.equal(negotiate('application/json;as=Table;v=v1;g=meta.k8s.io,application/json', builtin).kind, 'table');
  assert.equal(negotiate('application/vnd.kubernetes.protobuf;stream=watch', builtin).protobuf, true);
});
