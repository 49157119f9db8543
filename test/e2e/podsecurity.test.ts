// Pod Security Admission with the real kubectl: enforce refuses with upstream's message, warn
// prints upstream's Warning on a Deployment (its pod template), a compliant pod is accepted,
// labelling a namespace that has privileged pods warns, and an AdmissionConfiguration file
// (--admission-control-config-file) exempts a namespace.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8TS_BIN, run, startCluster, until, type Cluster } from './harness.js';

let cluster: Cluster;
let configDir: string;

before(async () => {
  configDir = mkdtempSync(join(tmpdir(), 'k8ts-psa-'));
  const file = join(configDir, 'admission.yaml');
  writeFileSync(
    file,
    `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: privileged, audit: privileged, warn: privileged}
    exemptions: {namespaces: [psa-exempt]}
`,
  );
  cluster = await startCluster({ args: ['--admission-control-config-file', file] });
});
after(async () => {
  await cluster?.cleanup();
  rmSync(configDir, { recursive: true, force: true });
});

const privilegedPod = (name: string, ns: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  containers:
  - name: c
    image: busybox
    securityContext: {privileged: true}
`;

const RESTRICTED_VIOLATIONS =
  'privileged (container "c" must not set securityContext.privileged=true), ' +
  'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false), ' +
  'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"]), ' +
  'runAsNonRoot != true (pod or container "c" must set securityContext.runAsNonRoot=true), ' +
  'seccompProfile (pod or container "c" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")';

test('enforce=restricted refuses a privileged pod with upstream message; a compliant pod is accepted', async () => {
  await cluster.k(['create', 'namespace', 'psa-restricted']);
  await cluster.k(['label', 'namespace', 'psa-restricted', 'pod-security.kubernetes.io/enforce=restricted']);
  const r = await cluster.kubectl(['apply', '-f', '-'], { input: privilegedPod('priv', 'psa-restricted') });
  assert.notEqual(r.code, 0);
  assert.equal(
    r.stderr.trim(),
    `Error from server (Forbidden): error when creating "STDIN": pods "priv" is forbidden: violates PodSecurity "restricted:latest": ${RESTRICTED_VIOLATIONS}`,
  );
  const out = await cluster.kubectl(['apply', '-f', '-'], {
    input: `
apiVersion: v1
kind: Pod
metadata: {name: compliant, namespace: psa-restricted}
spec:
  securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: c
    image: busybox
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`,
  });
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stderr, '');
  assert.match(out.stdout, /pod\/compliant created/);
  // A metadata-only update of the compliant pod goes through.
  await cluster.k(['label', 'pod', 'compliant', '-n', 'psa-restricted', 'x=y']);
});

test('warn=baseline prints a Warning on a Deployment, which is created', async () => {
  await cluster.k(['create', 'namespace', 'psa-warn']);
  await cluster.k(['label', 'namespace', 'psa-warn', 'pod-security.kubernetes.io/warn=baseline']);
  const r = await cluster.kubectl(['apply', '-f', '-'], {
    input: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: psa-warn}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      hostNetwork: true
      containers:
      - name: c
        image: busybox
        securityContext: {privileged: true}
`,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stderr.trim(),
    'Warning: would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true), privileged (container "c" must not set securityContext.privileged=true)',
  );
  assert.match(r.stdout, /deployment.apps\/web created/);
});

test('enforce on a Deployment: created without error (its pods are what is refused)', async () => {
  const r = await cluster.kubectl(['apply', '-f', '-'], {
    input: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: psa-restricted}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: busybox, securityContext: {privileged: true}}]
`,
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /deployment.apps\/web created/);
  // The ReplicaSet's pods are refused: its FailedCreate event carries upstream's message.
  await until('FailedCreate event for the ReplicaSet', async () => {
    const events = await cluster.k(['get', 'events', '-n', 'psa-restricted', '-o', 'json']);
    const items = (JSON.parse(events) as { items: { reason?: string; message?: string }[] }).items;
    return items.find(
      (e) =>
        e.reason === 'FailedCreate' &&
        /^Error creating: pods "web-[a-z0-9]+-[a-z0-9]+" is forbidden: violates PodSecurity "restricted:latest": privileged/.test(
          e.message ?? '',
        ),
    );
  });
});

test('labelling a namespace that has privileged pods with enforce warns about them', async () => {
  await cluster.k(['create', 'namespace', 'psa-existing']);
  for (const name of ['a', 'b', 'c']) await cluster.k(['apply', '-f', '-'], privilegedPod(name, 'psa-existing'));
  const dry = await cluster.kubectl([
    'label',
    '--dry-run=server',
    '--overwrite',
    'namespace',
    'psa-existing',
    'pod-security.kubernetes.io/enforce=baseline',
  ]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(
    dry.stderr.trim(),
    [
      'Warning: existing pods in namespace "psa-existing" violate the new PodSecurity enforce level "baseline:latest"',
      'Warning: a (and 2 other pods): privileged',
    ].join('\n'),
  );
  assert.match(dry.stdout, /namespace\/psa-existing labeled \(server dry run\)/);
  const labelled = await cluster.kubectl([
    'label',
    'namespace',
    'psa-existing',
    'pod-security.kubernetes.io/enforce=baseline',
  ]);
  assert.equal(labelled.code, 0, labelled.stderr);
  assert.match(labelled.stderr, /violate the new PodSecurity enforce level "baseline:latest"/);
  const refused = await cluster.kubectl(['apply', '-f', '-'], { input: privilegedPod('d', 'psa-existing') });
  assert.match(refused.stderr, /pods "d" is forbidden: violates PodSecurity "baseline:latest": privileged/);
});

test('an invalid level label is refused (422); an exempt namespace is not enforced', async () => {
  await cluster.k(['create', 'namespace', 'psa-bad']);
  const r = await cluster.kubectl(['label', 'namespace', 'psa-bad', 'pod-security.kubernetes.io/enforce=strict']);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /metadata\.labels\[pod-security\.kubernetes\.io\/enforce\]: Invalid value: "strict": must be one of privileged, baseline, restricted/,
  );
  await cluster.k(['create', 'namespace', 'psa-exempt']);
  const exempt = await cluster.kubectl([
    'label',
    'namespace',
    'psa-exempt',
    'pod-security.kubernetes.io/enforce=restricted',
  ]);
  assert.equal(exempt.code, 0, exempt.stderr);
  assert.match(
    exempt.stderr,
    /namespace "psa-exempt" is exempt from Pod Security, and the policy \(enforce=restricted:latest\) will be ignored/,
  );
  await cluster.k(['apply', '-f', '-'], privilegedPod('priv', 'psa-exempt'));
});

test('an invalid PodSecurityConfiguration stops the server at start, naming the file', async () => {
  const file = join(configDir, 'bad.yaml');
  writeFileSync(
    file,
    `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults: {enforce: strict}
`,
  );
  const r = await run(process.execPath, [
    K8TS_BIN,
    'server',
    '--data-dir',
    join(configDir, 'bad-data'),
    '--https-listen-port',
    '0',
    '--disable-agent',
    '--disable-ingress',
    '--admission-control-config-file',
    file,
  ]);
  assert.notEqual(r.code, 0);
  assert.match(
    r.stderr,
    /--admission-control-config-file .*bad\.yaml: defaults\.enforce: Invalid value: "strict": must be one of privileged, baseline, restricted/,
  );
});
