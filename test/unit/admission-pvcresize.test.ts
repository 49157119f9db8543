// PersistentVolumeClaimResize: which claim updates may grow a claim, with upstream's messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PersistentVolumeClaim } from 'kubernetes-types/core/v1.js';
import type { StorageClass } from 'kubernetes-types/storage/v1.js';
import type { AdmissionAttributes } from '../../src/apiserver/admission/interfaces.js';
import { PersistentVolumeClaimResize } from '../../src/apiserver/admission/pvcresize.js';
import type { ResourceDef } from '../../src/api/types.js';

const classes: Record<string, StorageClass> = {
  expandable: { metadata: { name: 'expandable' }, provisioner: 'p', allowVolumeExpansion: true },
  fixed: { metadata: { name: 'fixed' }, provisioner: 'p' },
};
const plugin = new PersistentVolumeClaimResize((name) => classes[name]);

function claim(size: string, className: string | undefined, phase = 'Bound'): PersistentVolumeClaim {
  return {
    metadata: { name: 'data', namespace: 'default' },
    spec: { storageClassName: className, resources: { requests: { storage: size } } },
    status: { phase },
  };
}

function update(old: PersistentVolumeClaim, next: PersistentVolumeClaim, subresource = ''): AdmissionAttributes {
  return {
    operation: 'UPDATE',
    group: '',
    version: 'v1',
    resource: 'persistentvolumeclaims',
    kind: 'PersistentVolumeClaim',
    subresource,
    namespace: 'default',
    name: 'data',
    object: next,
    oldObject: old,
    user: { name: 'u', groups: [] },
    dryRun: false,
    def: {} as ResourceDef,
  };
}

function refusal(a: AdmissionAttributes): string | undefined {
  assert.ok(plugin.handles(a));
  try {
    plugin.validate(a);
    return undefined;
  } catch (err) {
    assert.equal((err as { code?: number }).code, 403);
    return (err as Error).message;
  }
}

test('a bound claim of a class that allows expansion may grow', () => {
  assert.equal(refusal(update(claim('1Gi', 'expandable'), claim('2Gi', 'expandable'))), undefined);
});

test('growing is refused without allowVolumeExpansion, without a class, or with a changed class', () => {
  const why = /persistentvolumeclaims "data" is forbidden: only dynamically provisioned pvc can be resized/;
  assert.match(refusal(update(claim('1Gi', 'fixed'), claim('2Gi', 'fixed')))!, why);
  assert.match(refusal(update(claim('1Gi', undefined), claim('2Gi', undefined)))!, why);
  assert.match(refusal(update(claim('1Gi', 'fixed'), claim('2Gi', 'expandable')))!, why);
  assert.match(refusal(update(claim('1Gi', 'gone'), claim('2Gi', 'gone')))!, why);
});

test('an unbound claim cannot grow; other updates and the status subresource pass', () => {
  assert.match(
    refusal(update(claim('1Gi', 'expandable', 'Pending'), claim('2Gi', 'expandable', 'Pending')))!,
    /Only bound persistent volume claims can be expanded/,
  );
  assert.equal(refusal(update(claim('1Gi', 'fixed'), claim('1024Mi', 'fixed'))), undefined); // same size
  assert.equal(refusal(update(claim('2Gi', 'fixed'), claim('1Gi', 'fixed'))), undefined); // validation's job
  assert.equal(plugin.handles(update(claim('1Gi', 'fixed'), claim('2Gi', 'fixed'), 'status')), false);
});
