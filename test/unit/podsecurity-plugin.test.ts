// The PodSecurity plugin: namespace labels to levels, enforce/warn/audit, workloads never refused,
// exemptions, metadata-only pod updates, and the existing-pods check of a namespace update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Namespace, Pod } from 'kubernetes-types/core/v1.js';
import type { ResourceDef } from '../../src/api/types.js';
import type { AdmissionAttributes } from '../../src/apiserver/admission/interfaces.js';
import { ApiError } from '../../src/machinery/errors.js';
import {
  PodSecurity,
  defaultPodSecurityConfiguration,
  loadPodSecurityConfiguration,
  evaluatePod,
  describeViolations,
} from '../../src/apiserver/admission/podsecurity/index.js';
import { existingPodWarnings } from '../../src/apiserver/admission/podsecurity/namespace.js';

const ns = (name: string, labels: Record<string, string> = {}): Namespace => ({ metadata: { name, labels } });

const privilegedPod = (name = 'p'): Pod => ({
  metadata: { name, namespace: 'team' },
  spec: { containers: [{ name: 'c', image: 'busybox', securityContext: { privileged: true } }] },
});

const restrictedPod = (name = 'ok'): Pod => ({
  metadata: { name, namespace: 'team' },
  spec: {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      {
        name: 'c',
        image: 'busybox',
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      },
    ],
  },
});

function attrs(over: Partial<AdmissionAttributes>): AdmissionAttributes {
  return {
    operation: 'CREATE',
    group: '',
    version: 'v1',
    resource: 'pods',
    kind: 'Pod',
    subresource: '',
    namespace: 'team',
    name: 'p',
    user: { name: 'alice', groups: [] },
    dryRun: false,
    def: {} as ResourceDef,
    warnings: [],
    auditAnnotations: {},
    ...over,
  };
}

function plugin(namespaces: Namespace[], pods: Pod[] = []): PodSecurity {
  return new PodSecurity({
    namespace: (name) => namespaces.find((n) => n.metadata?.name === name),
    podsIn: (namespace) => pods.filter((p) => p.metadata?.namespace === namespace),
  });
}

const RESTRICTED_PRIVILEGED_MESSAGE =
  'privileged (container "c" must not set securityContext.privileged=true), ' +
  'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ' +
  'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ' +
  'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ' +
  'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")';

test('restricted evaluation: baseline checks first, then restricted, in ID order; hostPath replaced', () => {
  const pod = privilegedPod();
  pod.spec!.hostNetwork = true;
  pod.spec!.volumes = [{ name: 'host', hostPath: { path: '/' } }];
  const failed = evaluatePod({ level: 'restricted', version: 'latest' }, pod.metadata!, pod.spec!);
  assert.deepEqual(
    failed.map((r) => r.forbiddenReason),
    [
      'host namespaces',
      'privileged',
      'allowPrivilegeEscalation != false',
      'unrestricted capabilities',
      'restricted volume types',
      'runAsNonRoot != true',
      'seccompProfile',
    ],
  );
});

test('restricted replaces baseline capabilities and seccomp checks with its own', () => {
  const spec = {
    containers: [
      {
        name: 'c',
        image: 'x',
        securityContext: { capabilities: { add: ['SYS_ADMIN'] }, seccompProfile: { type: 'Unconfined' } },
      },
    ],
  };
  const reasons = (level: 'baseline' | 'restricted') =>
    evaluatePod({ level, version: 'latest' }, {}, spec).map((r) => r.forbiddenReason);
  assert.deepEqual(reasons('baseline'), ['non-default capabilities', 'seccompProfile']);
  assert.deepEqual(reasons('restricted'), [
    'allowPrivilegeEscalation != false',
    'unrestricted capabilities',
    'runAsNonRoot != true',
    'seccompProfile',
  ]);
});

test('enforce refuses a pod with 403 and upstream message; no warning besides', () => {
  const p = plugin([
    ns('team', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'restricted' }),
  ]);
  const a = attrs({ object: privilegedPod() });
  assert.ok(p.handles(a));
  assert.throws(
    () => p.validate(a),
    (e: unknown) =>
      e instanceof ApiError &&
      e.code === 403 &&
      e.message === `pods "p" is forbidden: violates PodSecurity "restricted:latest": ${RESTRICTED_PRIVILEGED_MESSAGE}`,
  );
  assert.deepEqual(a.warnings, []);
  assert.equal(a.auditAnnotations!['pod-security.kubernetes.io/enforce-policy'], 'restricted:latest');
});

test('a compliant pod passes restricted; version labels are accepted', () => {
  const p = plugin([
    ns('team', {
      'pod-security.kubernetes.io/enforce': 'restricted',
      'pod-security.kubernetes.io/enforce-version': 'v1.30',
    }),
  ]);
  const a = attrs({ object: restrictedPod() });
  p.validate(a);
  assert.equal(a.auditAnnotations!['pod-security.kubernetes.io/enforce-policy'], 'restricted:v1.30');
});

test('warn adds a Warning, audit an annotation; the pod is admitted', () => {
  const p = plugin([
    ns('team', { 'pod-security.kubernetes.io/warn': 'baseline', 'pod-security.kubernetes.io/audit': 'restricted' }),
  ]);
  const a = attrs({ object: privilegedPod() });
  p.validate(a);
  assert.deepEqual(a.warnings, [
    'would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)',
  ]);
  assert.equal(
    a.auditAnnotations!['pod-security.kubernetes.io/audit-violations'],
    `would violate PodSecurity "restricted:latest": ${RESTRICTED_PRIVILEGED_MESSAGE}`,
  );
});

test('workloads get warnings for their pod template but are never refused', () => {
  const p = plugin([
    ns('team', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/warn': 'baseline' }),
  ]);
  const deployment = { metadata: { name: 'd', namespace: 'team' }, spec: { template: { spec: privilegedPod().spec } } };
  const a = attrs({ group: 'apps', resource: 'deployments', kind: 'Deployment', name: 'd', object: deployment });
  assert.ok(p.handles(a));
  p.validate(a);
  assert.deepEqual(a.warnings, [
    'would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)',
  ]);
  const cronjob = {
    metadata: { name: 'cj', namespace: 'team' },
    spec: { jobTemplate: { spec: { template: { spec: privilegedPod().spec } } } },
  };
  const b = attrs({ group: 'batch', resource: 'cronjobs', kind: 'CronJob', name: 'cj', object: cronjob });
  p.validate(b);
  assert.equal(b.warnings!.length, 1);
  // A status write of a workload is not looked at.
  assert.equal(p.handles(attrs({ group: 'apps', resource: 'deployments', subresource: 'status' })), false);
});

test('unlabelled namespace: privileged by default, nothing checked', () => {
  const p = plugin([ns('team')]);
  const a = attrs({ object: privilegedPod() });
  p.validate(a);
  assert.deepEqual(a.warnings, []);
  assert.deepEqual(a.auditAnnotations, { 'pod-security.kubernetes.io/enforce-policy': 'privileged:latest' });
});

test('an invalid label counts as restricted for pods and refuses the namespace write', () => {
  const p = plugin([ns('team', { 'pod-security.kubernetes.io/enforce': 'strict' })]);
  assert.throws(() => p.validate(attrs({ object: privilegedPod() })), /violates PodSecurity "restricted:latest"/);
  const a = attrs({
    resource: 'namespaces',
    kind: 'Namespace',
    namespace: '',
    name: 'x',
    object: ns('x', { 'pod-security.kubernetes.io/enforce': 'strict' }),
  });
  assert.throws(
    () => p.validate(a),
    (e: unknown) =>
      e instanceof ApiError &&
      e.code === 422 &&
      e.message.includes(
        'metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "strict": must be one of privileged, baseline, restricted',
      ),
  );
});

test('metadata-only pod updates are not evaluated; image changes and ephemeral containers are', () => {
  const p = plugin([ns('team', { 'pod-security.kubernetes.io/enforce': 'baseline' })]);
  const old = privilegedPod();
  const relabelled = { ...privilegedPod(), metadata: { ...old.metadata, labels: { a: 'b' } } };
  p.validate(attrs({ operation: 'UPDATE', object: relabelled, oldObject: old }));
  const reimaged = privilegedPod();
  reimaged.spec!.containers[0].image = 'busybox:2';
  assert.throws(
    () => p.validate(attrs({ operation: 'UPDATE', object: reimaged, oldObject: old })),
    /violates PodSecurity/,
  );
  const withDebug = restrictedPod('p');
  withDebug.spec!.ephemeralContainers = [{ name: 'dbg', image: 'busybox', securityContext: { privileged: true } }];
  assert.throws(
    () =>
      p.validate(
        attrs({
          operation: 'UPDATE',
          subresource: 'ephemeralcontainers',
          object: withDebug,
          oldObject: restrictedPod('p'),
        }),
      ),
    /violates PodSecurity "baseline:latest": privileged \(container "dbg" must not set securityContext.privileged=true\)/,
  );
  assert.equal(p.handles(attrs({ operation: 'UPDATE', subresource: 'status' })), false);
});

test('exemptions from the admission configuration file: users, namespaces, runtime classes; defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psa-'));
  const file = join(dir, 'admission.yaml');
  writeFileSync(
    file,
    `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
      enforce-version: latest
    exemptions:
      usernames: [ci-bot]
      runtimeClasses: [kata]
      namespaces: [kube-system]
`,
  );
  const p = plugin([ns('team'), ns('kube-system')]);
  p.configure(loadPodSecurityConfiguration(file));
  // The default enforce level applies to unlabelled namespaces.
  assert.throws(() => p.validate(attrs({ object: privilegedPod() })), /violates PodSecurity "baseline:latest"/);
  const byBot = attrs({ object: privilegedPod(), user: { name: 'ci-bot', groups: [] } });
  p.validate(byBot);
  assert.equal(byBot.auditAnnotations!['pod-security.kubernetes.io/exempt'], 'user');
  const inSystem = attrs({ namespace: 'kube-system', object: privilegedPod() });
  p.validate(inSystem);
  assert.equal(inSystem.auditAnnotations!['pod-security.kubernetes.io/exempt'], 'namespace');
  const kata = privilegedPod();
  kata.spec!.runtimeClassName = 'kata';
  const withKata = attrs({ object: kata });
  p.validate(withKata);
  assert.equal(withKata.auditAnnotations!['pod-security.kubernetes.io/exempt'], 'runtimeClass');
});

test('a bad configuration file is an error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'psa-'));
  const file = join(dir, 'admission.yaml');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'AdmissionConfiguration',
      plugins: [
        {
          name: 'PodSecurity',
          configuration: {
            apiVersion: 'pod-security.admission.config.k8s.io/v1',
            kind: 'PodSecurityConfiguration',
            defaults: { warn: 'strict' },
          },
        },
      ],
    }),
  );
  assert.throws(() => loadPodSecurityConfiguration(file), /defaults.warn: Invalid value: "strict"/);
});

test('labelling a namespace with enforce lists the existing pods that violate it', () => {
  const pods = [privilegedPod('a'), privilegedPod('b'), privilegedPod('c'), restrictedPod('ok')];
  const hostPod = privilegedPod('h');
  hostPod.spec!.hostPID = true;
  pods.push(hostPod);
  const p = plugin([], pods);
  const a = attrs({
    operation: 'UPDATE',
    resource: 'namespaces',
    kind: 'Namespace',
    namespace: '',
    name: 'team',
    object: ns('team', { 'pod-security.kubernetes.io/enforce': 'baseline' }),
    oldObject: ns('team'),
  });
  p.validate(a);
  assert.deepEqual(a.warnings, [
    'existing pods in namespace "team" violate the new PodSecurity enforce level "baseline:latest"',
    'a (and 2 other pods): privileged',
    'h: host namespaces, privileged',
  ]);
  // Unchanged enforce label: nothing checked again.
  const again = attrs({ ...a, oldObject: a.object as Namespace, warnings: [] });
  p.validate(again);
  assert.deepEqual(again.warnings, []);
  // Relaxing the level at the same version: nothing checked either.
  const relaxed = attrs({
    ...a,
    object: ns('team', { 'pod-security.kubernetes.io/enforce': 'baseline' }),
    oldObject: ns('team', { 'pod-security.kubernetes.io/enforce': 'restricted' }),
    warnings: [],
  });
  p.validate(relaxed);
  assert.deepEqual(relaxed.warnings, []);
  assert.equal(describeViolations([]), '');
});

test('existing pods: one per controller checked first, lexically first name, warnings sorted', () => {
  const owned = (name: string, uid: string): Pod => ({
    ...privilegedPod(name),
    metadata: {
      name,
      namespace: 'team',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid, controller: true }],
    },
  });
  const hostNet = (name: string): Pod => ({
    ...restrictedPod(name),
    spec: { ...restrictedPod(name).spec!, hostNetwork: true },
  });
  const pods = [
    owned('web-2', 'u1'),
    owned('web-1', 'u1'),
    hostNet('z-host'),
    hostNet('a-host'),
    restrictedPod('fine'),
  ];
  const p = plugin([], pods);
  const a = attrs({
    operation: 'UPDATE',
    resource: 'namespaces',
    kind: 'Namespace',
    namespace: '',
    name: 'team',
    object: ns('team', { 'pod-security.kubernetes.io/enforce': 'restricted' }),
    oldObject: ns('team', { 'pod-security.kubernetes.io/enforce': 'baseline' }),
  });
  p.validate(a);
  assert.deepEqual(a.warnings, [
    'existing pods in namespace "team" violate the new PodSecurity enforce level "restricted:latest"',
    'a-host (and 1 other pod): host namespaces',
    'web-1 (and 1 other pod): privileged, allowPrivilegeEscalation != false, unrestricted capabilities, runAsNonRoot != true, seccompProfile',
  ]);
});

test('invalid audit and warn labels fail open, with an error annotation; enforce fails closed', () => {
  const p = plugin([
    ns('team', { 'pod-security.kubernetes.io/warn': 'loud', 'pod-security.kubernetes.io/audit-version': 'next' }),
  ]);
  const a = attrs({ object: privilegedPod() });
  p.validate(a);
  assert.deepEqual(a.warnings, []);
  assert.equal(
    a.auditAnnotations!['pod-security.kubernetes.io/error'],
    'Failed to parse policy: [metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: "next": must be "latest" or "v1.x", ' +
      'metadata.labels[pod-security.kubernetes.io/warn]: Invalid value: "loud": must be one of privileged, baseline, restricted]',
  );
  // An update that leaves the same invalid labels alone is not refused.
  const labels = { 'pod-security.kubernetes.io/warn': 'loud', other: 'x' };
  p.validate(
    attrs({
      operation: 'UPDATE',
      resource: 'namespaces',
      kind: 'Namespace',
      namespace: '',
      name: 'team',
      object: ns('team', labels),
      oldObject: ns('team', { 'pod-security.kubernetes.io/warn': 'loud' }),
    }),
  );
});

test('an exempt namespace labelled with a policy gets upstream warning', () => {
  const p = plugin([]);
  p.configure({
    ...defaultPodSecurityConfiguration(),
    exemptions: { usernames: [], runtimeClasses: [], namespaces: ['kube-system'] },
  });
  const a = attrs({
    operation: 'UPDATE',
    resource: 'namespaces',
    kind: 'Namespace',
    namespace: '',
    name: 'kube-system',
    object: ns('kube-system', {
      'pod-security.kubernetes.io/enforce': 'baseline',
      'pod-security.kubernetes.io/warn': 'restricted',
    }),
    oldObject: ns('kube-system'),
  });
  p.validate(a);
  assert.deepEqual(a.warnings, [
    'namespace "kube-system" is exempt from Pod Security, and the policy (enforce=baseline:latest, warn=restricted:latest) will be ignored',
  ]);
});

test('existing pods: the check stops after its time budget and says how far it got', () => {
  let t = -600;
  const clock = () => (t += 600);
  const pods = ['a', 'b', 'c', 'd'].map((n) => privilegedPod(n));
  assert.deepEqual(
    existingPodWarnings('team', { level: 'baseline', version: 'latest' }, pods, () => false, clock),
    [
      'new PodSecurity enforce level only checked against the first 2 of 4 existing pods',
      'existing pods in namespace "team" violate the new PodSecurity enforce level "baseline:latest"',
      'a (and 1 other pod): privileged',
    ],
  );
});
