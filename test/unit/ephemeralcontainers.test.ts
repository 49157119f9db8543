// The pods/ephemeralcontainers strategy: upstream's validateEphemeralContainers (inside the pod
// spec's validation) and ValidatePodEphemeralContainersUpdate, and that a write through the
// subresource changes nothing but spec.ephemeralContainers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pods } from '../../src/api/core/v1/pod.js';
import { keepOnlyEphemeralContainerChanges } from '../../src/api/core/v1/ephemeralcontainers.js';
import type { StrategyContext } from '../../src/api/types.js';
import type { FieldError } from '../../src/machinery/fielderrors.js';

const SUB = 'ephemeralcontainers';
const ctx = (operation: 'create' | 'update', subresource?: string) =>
  ({ operation, subresource, warnings: [] }) as unknown as StrategyContext;

function pod(ephemeral: any[] = [], annotations?: Record<string, string>): any {
  const p: any = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p',
      namespace: 'default',
      uid: 'u1',
      resourceVersion: '5',
      ...(annotations ? { annotations } : {}),
    },
    spec: {
      containers: [{ name: 'main', image: 'busybox:1.35' }],
      initContainers: [{ name: 'setup', image: 'busybox:1.35' }],
      volumes: [{ name: 'data', emptyDir: {} }],
      ephemeralContainers: ephemeral,
    },
    status: { phase: 'Running' },
  };
  pods.defaults!(p);
  return p;
}

const debug = (extra: any = {}) => ({ name: 'debugger', image: 'busybox:1.35', stdin: true, tty: true, ...extra });

/** Validation of a subresource write, as the store runs it: the strategy's prepare, then both validations. */
function write(next: any, old: any, subresource = SUB): FieldError[] {
  const obj = structuredClone(next);
  pods.prepareForUpdate!(obj, old, ctx('update', subresource));
  return [
    ...pods.validate!(obj, ctx('update', subresource)),
    ...pods.validateUpdate!(obj, old, ctx('update', subresource)),
  ];
}

const fields = (errs: FieldError[]) => errs.map((e) => `${e.type} ${e.field}: ${e.detail}`);

test('a new ephemeral container is accepted (and defaulted like any container)', () => {
  const old = pod();
  const next = pod();
  next.spec.ephemeralContainers = [
    { name: 'debugger', image: 'busybox:1.35', targetContainerName: 'main', resources: {} },
  ];
  assert.deepEqual(fields(write(next, old)), []);
  const obj = structuredClone(next);
  delete obj.spec.ephemeralContainers[0].terminationMessagePolicy;
  keepOnlyEphemeralContainerChanges(obj, old);
  assert.equal(obj.spec.ephemeralContainers[0].terminationMessagePolicy, 'File');
  assert.equal(obj.spec.ephemeralContainers[0].imagePullPolicy, 'IfNotPresent');
});

test('existing ephemeral containers may not be changed or removed', () => {
  const old = pod([debug()]);
  const changed = pod([debug({ image: 'busybox:1.36' })]);
  const errs = write(changed, old);
  assert.equal(errs.length, 1, fields(errs).join('\n'));
  assert.equal(errs[0].type, 'FieldValueForbidden');
  assert.equal(errs[0].field, 'spec.ephemeralContainers');
  assert.match(errs[0].detail, /^Forbidden: existing ephemeral containers "debugger" may not be changed\n/);
  const removed = write(pod([]), old);
  assert.deepEqual(fields(removed), [
    'FieldValueForbidden spec.ephemeralContainers: Forbidden: existing ephemeral containers "debugger" may not be removed\n',
  ]);
  // Reordered (patches do not keep order) and one added: fine.
  const more = pod([debug({ name: 'second' }), debug()]);
  assert.deepEqual(fields(write(more, old)), []);
});

test('names are unique across containers, init containers and ephemeral containers', () => {
  for (const [name, i] of [
    ['main', 0],
    ['setup', 0],
    ['debugger', 1],
  ] as const) {
    const next = pod([debug(), debug({ name })].slice(name === 'debugger' ? 0 : 1));
    const errs = write(next, pod());
    assert.deepEqual(fields(errs), [
      `FieldValueDuplicate spec.ephemeralContainers[${i}].name: Duplicate value: "${name}"`,
    ]);
  }
});

test('targetContainerName must name a container or init container of the pod', () => {
  assert.deepEqual(fields(write(pod([debug({ targetContainerName: 'setup' })]), pod())), []);
  assert.deepEqual(fields(write(pod([debug({ targetContainerName: 'nope' })]), pod())), [
    'FieldValueNotFound spec.ephemeralContainers[0].targetContainerName: Not found: "nope"',
  ]);
  // Another ephemeral container is no target.
  const errs = write(pod([debug(), debug({ name: 'second', targetContainerName: 'debugger' })]), pod());
  assert.deepEqual(fields(errs), [
    'FieldValueNotFound spec.ephemeralContainers[1].targetContainerName: Not found: "debugger"',
  ]);
});

test('ports, resources, probes, lifecycle, restart policy and subPath mounts are forbidden', () => {
  const probe = { exec: { command: ['true'] } };
  const next = pod([
    debug({
      ports: [{ containerPort: 80 }],
      resources: { limits: { cpu: '1' } },
      restartPolicy: 'Always',
      livenessProbe: probe,
      readinessProbe: probe,
      startupProbe: probe,
      lifecycle: { preStop: probe },
      volumeMounts: [{ name: 'data', mountPath: '/data', subPath: 'x' }],
    }),
  ]);
  const forbidden = write(next, pod()).filter((e) => e.type === 'FieldValueForbidden');
  assert.deepEqual(
    forbidden.map((e) => `${e.field}: ${e.detail}`),
    [
      'ports',
      'resources',
      'restartPolicy',
      'livenessProbe',
      'readinessProbe',
      'startupProbe',
      'lifecycle',
      'volumeMounts[0].subPath',
    ].map((f) => `spec.ephemeralContainers[0].${f}: Forbidden: cannot be set for an Ephemeral Container`),
  );
  // Plain volume mounts, env and a security context are allowed.
  const allowed = pod([
    debug({
      volumeMounts: [{ name: 'data', mountPath: '/data' }],
      env: [{ name: 'A', value: '1' }],
      securityContext: { capabilities: { add: ['SYS_PTRACE'] } },
    }),
  ]);
  assert.deepEqual(fields(write(allowed, pod())), []);
});

test('the subresource changes only spec.ephemeralContainers', () => {
  const old = pod();
  const next = pod([debug()]);
  next.metadata.labels = { sneaky: 'yes' };
  next.spec.containers[0].image = 'busybox:9';
  next.spec.activeDeadlineSeconds = 5;
  next.status = { phase: 'Failed' };
  const obj = structuredClone(next);
  pods.prepareForUpdate!(obj, old, ctx('update', SUB));
  assert.equal(obj.metadata.labels, undefined);
  assert.equal(obj.spec.containers[0].image, 'busybox:1.35');
  assert.equal(obj.spec.activeDeadlineSeconds, undefined);
  assert.equal(obj.status.phase, 'Running');
  assert.deepEqual(
    obj.spec.ephemeralContainers.map((c: any) => c.name),
    ['debugger'],
  );
});

test('the pod itself may not gain, change or lose ephemeral containers', () => {
  const errs = write(pod([debug()]), pod(), '');
  assert.equal(errs.length, 1, fields(errs).join('\n'));
  assert.equal(errs[0].field, 'spec');
  assert.match(errs[0].detail, /^Forbidden: pod updates may not change fields other than/);
  assert.deepEqual(fields(write(pod([debug()]), pod([debug()]), '')), []);
});

test('ephemeral containers cannot be set on create, nor added to static pods', () => {
  const created = pod([debug()]);
  const errs = pods.validate!(created, ctx('create'));
  assert.deepEqual(fields(errs), ['FieldValueForbidden spec.ephemeralContainers: Forbidden: cannot be set on create']);
  const mirror = { 'kubernetes.io/config.mirror': 'abc' };
  assert.deepEqual(fields(write(pod([debug()], mirror), pod([], mirror))), [
    'FieldValueForbidden : Forbidden: static pods do not support ephemeral containers',
  ]);
});
