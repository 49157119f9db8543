// OCI chart references as Helm spells them (oci://HOST[:PORT]/PATH[:TAG]).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOciRef, parseOciRef } from '../../src/chart/release/oci.js';

test('oci:// references: host with port, nested repository, optional tag', () => {
  assert.ok(isOciRef('oci://r.example.com/a'));
  assert.ok(!isOciRef('https://r.example.com/a'));
  assert.deepEqual(parseOciRef('oci://localhost:5000/charts/hello'), {
    host: 'localhost:5000',
    repository: 'charts/hello',
    tag: undefined,
  });
  assert.deepEqual(parseOciRef('oci://ghcr.io/org/team/app:1.2.3_build.1'), {
    host: 'ghcr.io',
    repository: 'org/team/app',
    tag: '1.2.3_build.1',
  });
  assert.throws(() => parseOciRef('oci://ghcr.io'), /no repository/);
  assert.throws(() => parseOciRef('oci://ghcr.io/Org/App'), /lowercase/);
});
