// Query parameters and DeleteOptions bodies, decoded and validated as upstream's meta codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/machinery/errors.js';
import {
  deleteOptionsFromBody,
  deleteOptionsFromQuery,
  goQuote,
  listOptions,
  parseInt64Param,
  validateDeleteOptions,
  writeOptions,
} from '../../src/apiserver/options.js';

function fails(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ApiError);
    return e;
  }
  assert.fail('expected an ApiError');
}

test('strconv.ParseInt: values, syntax and range errors', () => {
  assert.equal(parseInt64Param('42'), 42);
  assert.equal(parseInt64Param('+7'), 7);
  assert.equal(parseInt64Param('-1'), -1);
  for (const bad of ['abc', '1e99', '1.5', '', ' 1', '0x10', '1_000']) {
    const e = fails(() => parseInt64Param(bad));
    assert.equal(e.code, 400);
    assert.equal(e.message, `strconv.ParseInt: parsing ${goQuote(bad)}: invalid syntax`);
  }
  assert.equal(
    fails(() => parseInt64Param('9223372036854775808')).message,
    'strconv.ParseInt: parsing "9223372036854775808": value out of range',
  );
  assert.equal(parseInt64Param('-9223372036854775808'), -9223372036854775808);
  assert.equal(goQuote('a"\u0001\n'), '"a\\"\\x01\\n"');
});

test('list options: booleans never fail, integers do, ListOptions validation is a 422', () => {
  const q = (s: string) => new URLSearchParams(s);
  const o = listOptions(q('limit=-5&allowWatchBookmarks=maybe&timeoutSeconds=3'), false);
  assert.equal(o.limit, -5);
  assert.equal(o.allowWatchBookmarks, true);
  assert.equal(o.timeoutSeconds, 3);
  assert.equal(listOptions(q('allowWatchBookmarks=FALSE'), false).allowWatchBookmarks, false);
  assert.equal(
    fails(() => listOptions(q('timeoutSeconds=abc'), true)).message,
    'strconv.ParseInt: parsing "abc": invalid syntax',
  );
  const e = fails(() => listOptions(q('resourceVersion=0&resourceVersionMatch=Exact'), false));
  assert.equal(e.code, 422);
  assert.equal(
    e.message,
    'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"',
  );
  assert.equal(e.details?.name, undefined);
  assert.equal(
    fails(() => listOptions(q('resourceVersion=5&resourceVersionMatch=NotOlderThan&continue=x'), false)).message,
    'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided',
  );
  // Watch: resourceVersionMatch only with sendInitialEvents, and only NotOlderThan.
  assert.doesNotThrow(() => listOptions(q('sendInitialEvents=true&resourceVersionMatch=NotOlderThan'), true));
  assert.equal(
    fails(() => listOptions(q('resourceVersionMatch=Exact'), true)).message,
    'ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided, resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"]',
  );
});

test('write options: dryRun, fieldValidation, fieldManager and patch rules', () => {
  const q = (s: string) => new URLSearchParams(s);
  assert.deepEqual(writeOptions(q('dryRun=All&fieldValidation=Strict'), 'CreateOptions'), {
    dryRun: true,
    fieldManager: '',
    fieldValidation: 'Strict',
    force: undefined,
  });
  assert.equal(
    fails(() => writeOptions(q('fieldManager=' + 'm'.repeat(129)), 'UpdateOptions')).message,
    'UpdateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes',
  );
  assert.match(
    fails(() => writeOptions(q('fieldManager=a%07b'), 'CreateOptions')).message,
    /^CreateOptions\.meta\.k8s\.io "" is invalid: fieldManager: Invalid value: .*: invalid character U\+0007 \(at position 1\)$/,
  );
  assert.equal(
    fails(() => writeOptions(q(''), 'PatchOptions', true)).message,
    'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
  );
  assert.equal(writeOptions(q('fieldManager=m&force=true'), 'PatchOptions', true).force, true);
});

test('DeleteOptions bodies: Go decoder type errors, unversioned kind, validation', () => {
  assert.deepEqual(
    deleteOptionsFromBody({
      kind: 'DeleteOptions',
      apiVersion: 'anything/v9',
      gracePeriodSeconds: 3,
      preconditions: { uid: 'u' },
      dryRun: ['All'],
    }),
    {
      gracePeriodSeconds: 3,
      preconditions: { uid: 'u' },
      dryRun: ['All'],
    },
  );
  assert.equal(
    fails(() => deleteOptionsFromBody({ orphanDependents: 'yes' })).message,
    'json: cannot unmarshal string into Go struct field DeleteOptions.orphanDependents of type bool',
  );
  assert.equal(
    fails(() => deleteOptionsFromBody({ propagationPolicy: 1 })).message,
    'json: cannot unmarshal number into Go struct field DeleteOptions.propagationPolicy of type v1.DeletionPropagation',
  );
  assert.equal(
    fails(() => deleteOptionsFromBody({ dryRun: [1] })).message,
    'json: cannot unmarshal number into Go struct field DeleteOptions.dryRun of type string',
  );
  assert.equal(
    fails(() => deleteOptionsFromBody({ kind: 'Status' })).message,
    'no kind "Status" is registered for version "meta.k8s.io/v1" in scheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme/register.go:27"',
  );
  assert.deepEqual(
    deleteOptionsFromQuery(new URLSearchParams('gracePeriodSeconds=0&orphanDependents=false&dryRun=All')),
    { gracePeriodSeconds: 0, orphanDependents: false, dryRun: ['All'] },
  );
  const e = fails(() =>
    validateDeleteOptions({ orphanDependents: true, propagationPolicy: 'Sideways', dryRun: ['x'] }),
  );
  assert.equal(e.code, 422);
  assert.deepEqual(
    e.details?.causes?.map((c) => c.field),
    ['propagationPolicy', 'propagationPolicy', 'dryRun'],
  );
});
