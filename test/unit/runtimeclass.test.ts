// node.k8s.io/v1 RuntimeClass: validation as upstream's, and the RuntimeClass admission plugin
// (overhead, node selector and tolerations applied to pods; upstream's refusals).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Pod, Toleration } from 'kubernetes-types/core/v1.js';
import type { RuntimeClass } from 'kubernetes-types/node/v1.js';
import { validateRuntimeClass, validateRuntimeClassUpdate } from '../../src/api/node/v1/runtimeclass.js';
import { RuntimeClassAdmission, mergeTolerations } from '../../src/apiserver/admission/runtimeclass.js';
import type { AdmissionAttributes } from '../../src/apiserver/admission/interfaces.js';
import { formatFieldError } from '../../src/machinery/fielderrors.js';
import { ApiError } from '../../src/machinery/errors.js';

const messages = (rc: Partial<RuntimeClass>) =>
  validateRuntimeClass({ metadata: { name: 'x' }, handler: 'runc', ...rc }).map(formatFieldError);

test('validation: handler a DNS label, overhead resources, scheduling labels and tolerations', () => {
  assert.deepEqual(messages({}), []);
  assert.match(messages({ handler: 'Kata_VM' })[0], /^handler: Invalid value: "Kata_VM": a lowercase RFC 1123 label/);
  assert.match(messages({ handler: '' })[0], /^handler: Invalid value: "": a lowercase RFC 1123 label/);
  assert.match(
    messages({ overhead: { podFixed: { cpu: '-1' } } })[0],
    /^overhead\.limits\[cpu\]: Invalid value: "-1": must be greater than or equal to 0/,
  );
  assert.match(messages({ overhead: { podFixed: { bogus: '1' } } })[0], /^overhead\.limits\[bogus\]: Invalid value/);
  assert.match(
    messages({ scheduling: { nodeSelector: { 'a b': 'c' } } })[0],
    /^scheduling\.nodeSelector: Invalid value/,
  );
  const t: Toleration = { key: 'gpu', operator: 'Exists', effect: 'NoSchedule' };
  assert.match(messages({ scheduling: { tolerations: [t, t] } })[0], /^scheduling\.tolerations\[1\]: Duplicate value/);
  const old = { metadata: { name: 'x' }, handler: 'runc' } as RuntimeClass;
  assert.match(
    formatFieldError(validateRuntimeClassUpdate({ ...old, handler: 'kata' }, old)[0]),
    /^handler: Invalid value: "kata": field is immutable/,
  );
});

test('mergeTolerations keeps the first of equals and drops what another toleration covers', () => {
  const exists: Toleration = { key: 'gpu', operator: 'Exists' };
  const equal: Toleration = { key: 'gpu', operator: 'Equal', value: 'a', effect: 'NoSchedule' };
  const other: Toleration = { key: 'zone', operator: 'Equal', value: 'b' };
  assert.deepEqual(mergeTolerations([equal], [exists, other]), [exists, other]);
  assert.deepEqual(mergeTolerations([other], [other]), [other]);
  const wildcard: Toleration = { operator: 'Exists' };
  assert.deepEqual(mergeTolerations([equal, other], [wildcard]), [wildcard]);
  // Tolerating a NoExecute taint for 60 s covers tolerating it for 10 s, whichever list has it.
  const short: Toleration = { key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 10 };
  const long: Toleration = { key: 'k', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 };
  assert.deepEqual(mergeTolerations([long], [short]), [long]);
  assert.deepEqual(mergeTolerations([short], [long]), [long]);
  const forever: Toleration = { key: 'k', operator: 'Exists', effect: 'NoExecute' };
  assert.deepEqual(mergeTolerations([long], [forever]), [forever]);
});

const classes: Record<string, RuntimeClass> = {
  kata: {
    metadata: { name: 'kata' },
    handler: 'kata',
    overhead: { podFixed: { cpu: '250m', memory: '120Mi' } },
    scheduling: {
      nodeSelector: { 'runtime/kata': 'true' },
      tolerations: [{ key: 'kata', operator: 'Exists', effect: 'NoSchedule' }],
    },
  },
  plain: { metadata: { name: 'plain' }, handler: 'runc' },
};
const plugin = new RuntimeClassAdmission((name) => classes[name]);

function attrs(pod: Pod): AdmissionAttributes {
  return {
    operation: 'CREATE',
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    subresource: '',
    namespace: 'default',
    name: pod.metadata?.name ?? '',
    object: pod,
  } as AdmissionAttributes;
}

const pod = (spec: Partial<Pod['spec']>): Pod => ({
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'c', image: 'i' }], ...spec },
});

function refusal(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApiError);
    assert.equal(err.code, 403);
    return err.message;
  }
  assert.fail('not refused');
}

test('admission applies the class: overhead, node selector, tolerations', () => {
  const p = pod({ runtimeClassName: 'kata', nodeSelector: { disk: 'ssd' } });
  const a = attrs(p);
  plugin.admit(a);
  plugin.validate(a);
  assert.deepEqual(p.spec!.overhead, { cpu: '250m', memory: '120Mi' });
  assert.deepEqual(p.spec!.nodeSelector, { disk: 'ssd', 'runtime/kata': 'true' });
  assert.deepEqual(p.spec!.tolerations, [{ key: 'kata', operator: 'Exists', effect: 'NoSchedule' }]);
  // The same overhead written differently is the same overhead.
  const same = pod({ runtimeClassName: 'kata', overhead: { cpu: '0.25', memory: '120Mi' } });
  plugin.admit(attrs(same));
  const plainPod = pod({ runtimeClassName: 'plain' });
  plugin.admit(attrs(plainPod));
  assert.equal(plainPod.spec!.overhead, undefined);
});

test("admission refuses with upstream's messages", () => {
  assert.equal(
    refusal(() => plugin.admit(attrs(pod({ runtimeClassName: 'gvisor' })))),
    'pods "p" is forbidden: pod rejected: RuntimeClass "gvisor" not found',
  );
  assert.equal(
    refusal(() => plugin.admit(attrs(pod({ runtimeClassName: 'kata', overhead: { cpu: '1' } })))),
    `pods "p" is forbidden: pod rejected: Pod's Overhead doesn't match RuntimeClass's defined Overhead`,
  );
  assert.equal(
    refusal(() => plugin.admit(attrs(pod({ runtimeClassName: 'kata', nodeSelector: { 'runtime/kata': 'no' } })))),
    'pods "p" is forbidden: conflict: runtimeClass.scheduling.nodeSelector[runtime/kata] = true; pod.spec.nodeSelector[runtime/kata] = no',
  );
  assert.equal(
    refusal(() => plugin.validate(attrs(pod({ overhead: { cpu: '1' } })))),
    'pods "p" is forbidden: pod rejected: Pod Overhead set without corresponding RuntimeClass defined Overhead',
  );
});
