import { test } from 'node:test';
import assert from 'node:assert/strict';
import { path, formatFieldError } from '../../src/machinery/fielderrors.js';
import {
  isConfigMapKey,
  isDNS1035Label,
  isDNS1123Label,
  isDNS1123Subdomain,
  isDomainPrefixedPath,
  isEnvVarName,
  isPathSegmentName,
  isQualifiedName,
  isValidCIDR,
  isValidIP,
  isValidLabelValue,
  isValidPortName,
  isValidPortNum,
  nameIsValid,
  validateAnnotations,
  validateLabels,
  validateLabelSelector,
  validateNonnegative,
  validateObjectMeta,
  validateObjectMetaUpdate,
} from '../../src/machinery/validation.js';

const DNS1123_LABEL_MSG =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN_MSG =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QNAME_PART_MSG =
  "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

const ok = (fn: (s: string) => string[], vs: string[]) => {
  for (const v of vs) assert.deepEqual(fn(v), [], `expected ${JSON.stringify(v)} to be valid`);
};
const bad = (fn: (s: string) => string[], vs: string[]) => {
  for (const v of vs) assert.ok(fn(v).length > 0, `expected ${JSON.stringify(v)} to be invalid`);
};

test('isDNS1123Label (upstream TestIsDNS1123Label cases)', () => {
  ok(isDNS1123Label, [
    'a',
    'ab',
    'abc',
    'a1',
    'a-1',
    'a--1--2--b',
    '0',
    '01',
    '012',
    '1a',
    '1-a',
    '1--a--b--2',
    'a'.repeat(63),
  ]);
  bad(isDNS1123Label, [
    '',
    'A',
    'ABC',
    'aBc',
    'A1',
    'A-1',
    '1-A',
    '-',
    'a-',
    '-a',
    '1-',
    '-1',
    '_',
    'a_',
    '_a',
    'a_b',
    '1_',
    '_1',
    '1_2',
    '.',
    'a.',
    '.a',
    'a.b',
    '1.',
    '.1',
    '1.2',
    ' ',
    'a ',
    ' a',
    'a b',
    '1 ',
    ' 1',
    '1 2',
    'a'.repeat(64),
  ]);
  assert.deepEqual(isDNS1123Label('My_Name'), [DNS1123_LABEL_MSG]);
  assert.deepEqual(isDNS1123Label('a.b'), ['must not contain dots']);
  assert.deepEqual(isDNS1123Label('a'.repeat(64)), ['must be no more than 63 characters']);
});

test('isDNS1123Subdomain', () => {
  ok(isDNS1123Subdomain, [
    'a',
    'ab',
    'a.b',
    'a-1.b-2',
    '0.a',
    'a.b.c.d.e',
    '1.2.3.4',
    'a'.repeat(253),
    `${'a'.repeat(63)}.${'b'.repeat(63)}`,
  ]);
  bad(isDNS1123Subdomain, ['', 'A', 'a..b', '.a', 'a.', 'a_b', '-a.b', 'a.-b', 'a'.repeat(254)]);
  assert.deepEqual(isDNS1123Subdomain('Foo'), [DNS1123_SUBDOMAIN_MSG]);
  assert.deepEqual(isDNS1123Subdomain('a'.repeat(254)), ['must be no more than 253 characters']);
});

test('isDNS1035Label', () => {
  ok(isDNS1035Label, ['a', 'ab', 'abc', 'a1', 'a-1', 'a--1--2--b', 'a'.repeat(63)]);
  bad(isDNS1035Label, ['0', '01', '1a', '1-a', '', 'A', 'a-', 'a.b', 'a'.repeat(64)]);
  assert.deepEqual(isDNS1035Label('1a'), [
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
  ]);
});

test('isQualifiedName (upstream TestIsQualifiedName cases)', () => {
  ok(isQualifiedName, [
    'simple',
    'now-with-dashes',
    '1-starts-with-num',
    '1234',
    'simple/simple',
    'now-with-dashes/simple',
    'now-with-dashes/now-with-dashes',
    'now.with.dots/simple',
    'now-with.dashes-and.dots/simple',
    '1-num.2-num/3-num',
    '1234/5678',
    '1.2.3.4/5678',
    'Uppercase_Is_OK_123',
    'example.com/Uppercase_Is_OK_123',
    'requests.storage-foo',
    'a'.repeat(63),
    `${'a'.repeat(253)}/${'b'.repeat(63)}`,
  ]);
  bad(isQualifiedName, [
    'nospecialchars%^=@',
    'cantendwithadash-',
    '-cantstartwithadash-',
    'only/one/slash',
    'Example.com/abc',
    'example_com/abc',
    'example.com/',
    '/simple',
    'a'.repeat(64),
    `${'a'.repeat(254)}/abc`,
  ]);
  assert.deepEqual(isQualifiedName('a b'), [QNAME_PART_MSG]);
  assert.deepEqual(isQualifiedName('only/one/slash'), [
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
  ]);
  assert.deepEqual(isQualifiedName('/simple'), ['prefix part must be non-empty']);
  assert.deepEqual(isQualifiedName('example.com/'), ['name part must be non-empty', QNAME_PART_MSG]);
  assert.deepEqual(isQualifiedName('Example.com/abc'), [`prefix part ${DNS1123_SUBDOMAIN_MSG}`]);
  assert.deepEqual(isQualifiedName('a'.repeat(64)), ['name part must be no more than 63 characters']);
});

test('isValidLabelValue', () => {
  ok(isValidLabelValue, [
    'simple',
    'now-with-dashes',
    '1-starts-with-num',
    'end-with-num-1',
    '1234',
    'a'.repeat(63),
    '',
    'MyValue',
    'my_value',
    '12345',
  ]);
  bad(isValidLabelValue, [
    'nospecialchars%^=@',
    'Tama-nui-te-rā.is.Māori.sun',
    '\\backslashes\\are\\bad',
    '-starts-with-dash',
    'ends-with-dash-',
    '.starts.with.dot',
    'ends.with.dot.',
    'a'.repeat(64),
  ]);
  assert.deepEqual(isValidLabelValue('a b'), [
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
  ]);
});

test('ports', () => {
  for (const p of [1, 80, 65535]) assert.deepEqual(isValidPortNum(p), []);
  for (const p of [0, -1, 65536, 1.5]) assert.deepEqual(isValidPortNum(p), ['must be between 1 and 65535, inclusive']);
  ok(isValidPortName, ['telnet', 're-mail-ck', 'pop3', 'a', 'a-1', '1-a', 'a-1-b-2-c', '1-a-2-b-3']);
  bad(isValidPortName, [
    '',
    'longerthan15characters',
    'a'.repeat(16),
    '12345',
    '1-2-3-4',
    '-begin',
    'end-',
    'two--hyphens',
    'whois++',
    'UPPER',
  ]);
  assert.deepEqual(isValidPortName('12345'), ['must contain at least one letter (a-z)']);
  assert.deepEqual(isValidPortName('two--hyphens'), ['must not contain consecutive hyphens']);
  assert.deepEqual(isValidPortName('-begin'), ['must not begin or end with a hyphen']);
  assert.deepEqual(isValidPortName('whois++'), [
    'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
  ]);
  assert.deepEqual(isValidPortName('a'.repeat(16)), ['must be no more than 15 characters']);
});

test('IPs and CIDRs', () => {
  ok(isValidIP, [
    '1.1.1.1',
    '1.1.1.01',
    '255.0.0.1',
    '0.0.0.0',
    '2001:db8::1',
    '::',
    '::1',
    '::ffff:1.2.3.4',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:1.2.3.4',
    'fe80::',
    'FE80::A',
  ]);
  bad(isValidIP, [
    '',
    'a',
    '1.1.1',
    '1.1.1.256',
    '1.1.1.1.1',
    '2001:db8::1::1',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7::8',
    ':::',
    '1.2.3.4::',
    'fe80::1%eth0',
    '1.2.3.4/24',
    '12345::',
  ]);
  assert.deepEqual(isValidIP('1.2.3'), ['must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']);
  ok(isValidCIDR, ['192.168.0.0/16', '10.0.0.1/24', '2001:db8::/64', '1.2.3.4/32', '::/0', '0.0.0.0/0']);
  bad(isValidCIDR, ['1.2.3.4', '1.2.3.4/33', '2001:db8::/129', '/24', '1.2.3.4/', '1.2.3.4/a']);
  assert.deepEqual(isValidCIDR('x'), ['must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)']);
});

test('env var names and config map keys', () => {
  ok(isEnvVarName, ['ABC', 'AbC_123', 'abc', 'a.b', '-abc', '_abc', 'A_-.B', '.abc', 'abc..']);
  bad(isEnvVarName, ['1ABC', 'a b', '', '.', '..', '..abc', 'a$b']);
  assert.deepEqual(isEnvVarName('..'), ["must not be '..'"]);
  assert.deepEqual(isEnvVarName('1a'), [
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
  ]);
  ok(isConfigMapKey, ['a', 'ab', 'abc', 'a1', 'a-1', 'a_1', 'a.1', '0', '-a', '_a', '.a', 'A', 'a'.repeat(253)]);
  bad(isConfigMapKey, ['', '.', '..', '..a', 'a b', 'a/b', 'a:b', 'a'.repeat(254)]);
  assert.deepEqual(isConfigMapKey('..a'), ["must not start with '..'"]);
  assert.deepEqual(isConfigMapKey('a b'), [
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
  ]);
});

test('path segment names and nameIsValid rules', () => {
  assert.deepEqual(isPathSegmentName('.'), ["may not be '.'"]);
  assert.deepEqual(isPathSegmentName('..'), ["may not be '..'"]);
  assert.deepEqual(isPathSegmentName('a/b%c'), ["may not contain '/'", "may not contain '%'"]);
  assert.deepEqual(isPathSegmentName('Any:Thing_ok'), []);
  assert.deepEqual(nameIsValid('path-segment', 'system:admin'), []);
  assert.deepEqual(nameIsValid('dns1123-subdomain', 'a.b'), []);
  assert.deepEqual(nameIsValid('dns1123-label', 'a.b'), ['must not contain dots']);
  assert.ok(nameIsValid('rfc1035-label', '1abc').length > 0);
  // generateName: a trailing dash is fine.
  assert.deepEqual(nameIsValid('dns1123-subdomain', 'web-', true), []);
  assert.deepEqual(nameIsValid('dns1123-label', 'web-', true), []);
  assert.ok(nameIsValid('dns1123-subdomain', 'web-', false).length > 0);
  assert.deepEqual(nameIsValid('path-segment', '..', true), []);
});

test('isDomainPrefixedPath', () => {
  const p = path('spec', 'x');
  assert.deepEqual(isDomainPrefixedPath(p, 'acme.io/foo'), []);
  assert.equal(isDomainPrefixedPath(p, '')[0].detail, 'Required value');
  assert.equal(
    isDomainPrefixedPath(p, 'foo')[0].detail,
    'Invalid value: "foo": must be a domain-prefixed path (such as "acme.io/foo")',
  );
  assert.equal(isDomainPrefixedPath(p, 'acme.io/a b').length, 1);
});

test('validateLabels / validateAnnotations', () => {
  const p = path('metadata', 'labels');
  assert.deepEqual(validateLabels({ app: 'web', 'example.com/tier': '' }, p), []);
  assert.deepEqual(validateLabels(undefined, p), []);
  const errs = validateLabels({ 'a b': 'ok', good: 'bad value' }, p);
  assert.equal(errs.length, 2);
  assert.equal(formatFieldError(errs[0]), `metadata.labels: Invalid value: "a b": ${QNAME_PART_MSG}`);
  assert.equal(errs[1].field, 'metadata.labels');
  assert.match(errs[1].detail, /^Invalid value: "bad value": a valid label must be/);

  const ap = path('metadata', 'annotations');
  assert.deepEqual(
    validateAnnotations({ 'Example.com/Anything': 'x y z' }, ap),
    [],
    'annotation keys are case-insensitive',
  );
  assert.equal(validateAnnotations({ 'a b': '' }, ap).length, 1);
  assert.deepEqual(validateAnnotations({ a: 'x'.repeat(256 * 1024 - 1) }, ap), []);
  const big = validateAnnotations({ a: 'x'.repeat(256 * 1024) }, ap);
  assert.equal(big.length, 1);
  assert.equal(big[0].type, 'FieldValueTooLong');
  assert.equal(formatFieldError(big[0]), 'metadata.annotations: Too long: may not be more than 262144 bytes');
});

test('validateLabelSelector', () => {
  const p = path('spec', 'selector');
  assert.deepEqual(validateLabelSelector(undefined, p), []);
  assert.deepEqual(
    validateLabelSelector(
      { matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['a'] }] },
      p,
    ),
    [],
  );
  const errs = validateLabelSelector(
    {
      matchExpressions: [
        { key: 'a', operator: 'In' },
        { key: 'b', operator: 'Exists', values: ['x'] },
        { key: 'c', operator: 'Bogus' },
        { key: 'bad key', operator: 'NotIn', values: ['bad value'] },
      ],
    },
    p,
  );
  assert.deepEqual(errs.map(formatFieldError), [
    "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
    "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
    'spec.selector.matchExpressions[2].operator: Invalid value: "Bogus": not a valid selector operator',
    `spec.selector.matchExpressions[3].key: Invalid value: "bad key": ${QNAME_PART_MSG}`,
    "spec.selector.matchExpressions[3].values[0]: Invalid value: \"bad value\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
  ]);
  assert.equal(validateLabelSelector({ matchLabels: { 'a b': 'c' } }, p)[0].field, 'spec.selector.matchLabels');
});

test('validateNonnegative', () => {
  const p = path('spec', 'replicas');
  assert.deepEqual(validateNonnegative(0, p), []);
  assert.deepEqual(validateNonnegative(undefined, p), []);
  assert.equal(
    formatFieldError(validateNonnegative(-1, p)[0]),
    'spec.replicas: Invalid value: -1: must be greater than or equal to 0',
  );
});

test('validateObjectMeta', () => {
  const p = path('metadata');
  const ns = { namespaced: true, nameRule: 'dns1123-subdomain' as const };
  const cl = { namespaced: false, nameRule: 'dns1123-subdomain' as const };
  assert.deepEqual(validateObjectMeta({ name: 'web', namespace: 'default', labels: { app: 'web' } }, ns, p), []);
  assert.deepEqual(validateObjectMeta({ name: 'node-1' }, cl, p), []);

  assert.deepEqual(validateObjectMeta({ namespace: 'default' }, ns, p).map(formatFieldError), [
    'metadata.name: Required value: name or generateName is required',
  ]);
  assert.deepEqual(validateObjectMeta(undefined, cl, p).map(formatFieldError), [
    'metadata.name: Required value: name or generateName is required',
  ]);
  assert.deepEqual(validateObjectMeta({ name: 'a' }, ns, p).map(formatFieldError), [
    'metadata.namespace: Required value',
  ]);
  assert.deepEqual(validateObjectMeta({ name: 'a', namespace: 'x' }, cl, p).map(formatFieldError), [
    'metadata.namespace: Forbidden: not allowed on this type',
  ]);
  assert.deepEqual(validateObjectMeta({ name: 'a', namespace: 'a.b' }, ns, p).map(formatFieldError), [
    'metadata.namespace: Invalid value: "a.b": must not contain dots',
  ]);
  assert.deepEqual(validateObjectMeta({ name: 'Web', namespace: 'd' }, ns, p).map(formatFieldError), [
    `metadata.name: Invalid value: "Web": ${DNS1123_SUBDOMAIN_MSG}`,
  ]);
  // generateName alone is not enough at validation time (the name is generated before).
  assert.deepEqual(
    validateObjectMeta({ generateName: 'web-', namespace: 'd' }, ns, p).map((e) => e.field),
    ['metadata.name'],
  );
  assert.deepEqual(
    validateObjectMeta({ generateName: 'Web-', name: 'web-x', namespace: 'd' }, ns, p).map((e) => e.field),
    ['metadata.generateName'],
  );
  assert.deepEqual(validateObjectMeta({ name: 'a', generation: -1 }, cl, p).map(formatFieldError), [
    'metadata.generation: Invalid value: -1: must be greater than or equal to 0',
  ]);
  assert.deepEqual(
    validateObjectMeta({ name: 'a', labels: { 'x/y/z': 'a' } }, cl, p).map((e) => e.field),
    ['metadata.labels'],
  );
});

test('validateObjectMeta ownerReferences', () => {
  const p = path('metadata');
  const o = { namespaced: false, nameRule: 'dns1123-subdomain' as const };
  const ref = (name: string, controller?: boolean) => ({
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    name,
    uid: `uid-${name}`,
    controller,
  });
  assert.deepEqual(validateObjectMeta({ name: 'a', ownerReferences: [ref('rs1', true), ref('rs2', false)] }, o, p), []);
  const two = validateObjectMeta({ name: 'a', ownerReferences: [ref('rs1', true), ref('rs2', true)] }, o, p);
  assert.equal(two.length, 1);
  assert.equal(two[0].field, 'metadata.ownerReferences');
  assert.match(
    two[0].detail,
    /: Only one reference can have Controller set to true\. Found "true" in references for ReplicaSet\/rs1 and ReplicaSet\/rs2$/,
  );
  const empty = validateObjectMeta(
    { name: 'a', ownerReferences: [{ apiVersion: '', kind: '', name: '', uid: '' }] },
    o,
    p,
  );
  assert.deepEqual(empty.map(formatFieldError), [
    'metadata.ownerReferences.apiVersion: Invalid value: "": version must not be empty',
    'metadata.ownerReferences.kind: Invalid value: "": kind must not be empty',
    'metadata.ownerReferences.name: Invalid value: "": name must not be empty',
    'metadata.ownerReferences.uid: Invalid value: "": uid must not be empty',
  ]);
  const ev = validateObjectMeta(
    { name: 'a', ownerReferences: [{ apiVersion: 'v1', kind: 'Event', name: 'e', uid: 'u' }] },
    o,
    p,
  );
  assert.match(ev[0].detail, /\/v1, Kind=Event is disallowed from being an owner$/);
});

test('validateObjectMeta finalizers', () => {
  const p = path('metadata');
  const o = { namespaced: false, nameRule: 'dns1123-subdomain' as const };
  assert.deepEqual(
    validateObjectMeta({ name: 'a', finalizers: ['kubernetes.io/pv-protection', 'foregroundDeletion'] }, o, p),
    [],
  );
  assert.deepEqual(validateObjectMeta({ name: 'a', finalizers: ['a b'] }, o, p).map(formatFieldError), [
    `metadata.finalizers: Invalid value: "a b": ${QNAME_PART_MSG}`,
  ]);
  const both = validateObjectMeta({ name: 'a', finalizers: ['orphan', 'foregroundDeletion'] }, o, p);
  assert.equal(both.length, 1);
  assert.match(both[0].detail, /finalizer orphan and foregroundDeletion cannot be both set$/);
});

test('validateObjectMetaUpdate', () => {
  const p = path('metadata');
  const old = {
    name: 'a',
    namespace: 'ns',
    uid: 'u1',
    resourceVersion: '5',
    creationTimestamp: '2024-01-01T00:00:00Z',
    generation: 2,
  };
  assert.deepEqual(validateObjectMetaUpdate({ ...old, labels: { x: 'y' } }, old, p), []);
  assert.deepEqual(validateObjectMetaUpdate({ ...old, name: 'b' }, old, p).map(formatFieldError), [
    'metadata.name: Invalid value: "b": field is immutable',
  ]);
  assert.deepEqual(validateObjectMetaUpdate({ ...old, namespace: 'other' }, old, p).map(formatFieldError), [
    'metadata.namespace: Invalid value: "other": field is immutable',
  ]);
  assert.deepEqual(validateObjectMetaUpdate({ ...old, uid: 'u2' }, old, p).map(formatFieldError), [
    'metadata.uid: Invalid value: "u2": field is immutable',
  ]);
  assert.deepEqual(
    validateObjectMetaUpdate({ ...old, creationTimestamp: '2024-02-01T00:00:00Z' }, old, p).map((e) => e.field),
    ['metadata.creationTimestamp'],
  );
  assert.deepEqual(
    validateObjectMetaUpdate({ ...old, creationTimestamp: '2024-01-01T00:00:00.000Z' }, old, p),
    [],
    'same instant',
  );
  assert.deepEqual(
    validateObjectMetaUpdate({ ...old, deletionTimestamp: '2024-02-01T00:00:00Z' }, old, p).map((e) => e.field),
    ['metadata.deletionTimestamp'],
  );
  assert.deepEqual(validateObjectMetaUpdate({ ...old, deletionGracePeriodSeconds: 30 }, old, p).map(formatFieldError), [
    'metadata.deletionGracePeriodSeconds: Invalid value: 30: field is immutable',
  ]);
  assert.deepEqual(validateObjectMetaUpdate({ ...old, generation: 1 }, old, p).map(formatFieldError), [
    'metadata.generation: Invalid value: 1: must not be decremented',
  ]);
  assert.deepEqual(validateObjectMetaUpdate({ ...old, resourceVersion: undefined }, old, p).map(formatFieldError), [
    'metadata.resourceVersion: Invalid value: "": must be specified for an update',
  ]);
  const deleting = { ...old, deletionTimestamp: '2024-03-01T00:00:00Z', finalizers: ['a/x'] };
  assert.deepEqual(
    validateObjectMetaUpdate({ ...deleting, finalizers: ['a/x', 'b/y', 'a/z'] }, deleting, p).map(formatFieldError),
    [
      'metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{"a/z", "b/y"}',
    ],
  );
  assert.deepEqual(
    validateObjectMetaUpdate({ ...deleting, finalizers: [] }, deleting, p),
    [],
    'removing finalizers is fine',
  );
});
